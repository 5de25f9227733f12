import { randomBytes } from 'node:crypto';

/**
 * The form of a session token: 32 random bytes as base64url (RFC 4648 §5, no padding),
 * always 43 characters of `A–Z a–z 0–9 - _`. A bearer value of any other form cannot
 * name a session, so it is refused as malformed (a client's mistake: a pasted
 * `Bearer …`, a `null` printed by `jq -r .token` of an error) before any lookup, with a
 * message that is not "expired or revoked".
 */
const TOKEN_FORM = /^[A-Za-z0-9_-]{43}$/;

/** The text of the refusal, after the name of where the token came from. */
export const MALFORMED_TOKEN = 'is malformed: expected the 43-character token from auth.signUp or auth.signIn';

/** A new session token (256 random bits). */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `token` has the form of a session token (it may still be unknown, expired or revoked). */
export function isTokenForm(token: string): boolean {
  return TOKEN_FORM.test(token);
}
