/** A user as clients see them. */
export interface User {
  id: string;
  email: string;
  displayName: string;
  createdAt: Date;
}

/** A public profile (what other members see). */
export interface UserProfile {
  id: string;
  displayName: string;
}

/** What `auth.signUp` and `auth.signIn` return: the bearer token and its user. */
export interface AuthResult {
  token: string;
  expiresAt: Date;
  user: User;
}
