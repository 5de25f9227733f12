import { z } from 'zod';
import type { AuthResult, User } from './types.js';

/** A user as clients see them (`User`). */
export const UserOutput = z.object({
  id: z.guid(),
  email: z.string(),
  displayName: z.string(),
  createdAt: z.date(),
}) satisfies z.ZodType<User>;

/** `auth.signUp` / `auth.signIn`: the bearer token, when it expires, and its user. */
export const AuthResultOutput = z.object({
  token: z.string(),
  expiresAt: z.date(),
  user: UserOutput,
}) satisfies z.ZodType<AuthResult>;

/** `{ ok: true }`: the call did what it says. */
export const OkOutput = z.object({ ok: z.literal(true) });
