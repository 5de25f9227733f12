import { z } from 'zod';
import { limits } from '../config.js';
import { authedProcedure, publicProcedure, router } from '../trpc.js';
import { AuthResultOutput, OkOutput, UserOutput } from './outputs.js';

const Email = z.string().trim().max(limits.emailMax).pipe(z.email({ message: 'enter a valid email address' }));
const Password = z
  .string()
  .min(limits.passwordMin, `password must be at least ${limits.passwordMin} characters`)
  .max(limits.passwordMax, `password must be at most ${limits.passwordMax} characters`);

export const SignUpInput = z.object({
  email: Email,
  password: Password,
  displayName: z.string().trim().min(1, 'displayName must not be empty').max(limits.displayNameMax),
});
export const SignInInput = z.object({ email: Email, password: z.string().min(1).max(limits.passwordMax) });

export const authRouter = router({
  /**
   * Creates an account and returns `{ token, expiresAt, user }`.
   * Errors: BAD_REQUEST for a bad email, a password under 8 or over 200 characters, an
   * empty display name; CONFLICT when the email is taken.
   */
  signUp: publicProcedure
    .input(SignUpInput)
    .output(AuthResultOutput)
    .meta({ openapi: { method: 'POST', path: '/auth/sign-up', tags: ['auth'], summary: 'Create an account; returns a bearer token', protect: false } })
    .mutation(({ ctx, input }) => ctx.svc.auth.signUp(input, ctx.ip)),

  /**
   * Signs in; returns `{ token, expiresAt, user }`. Send the token as
   * `Authorization: Bearer <token>` on HTTP and as connectionParams `{ token }` on WebSocket.
   * Errors: UNAUTHORIZED for a wrong email or password (one message for both);
   * TOO_MANY_REQUESTS after 10 failures in a row for one email from one address (that pair
   * waits 5 minutes: SIGN_IN_RATE; the owner signs in from elsewhere), 100 failures from
   * one address in a day, 1,000 for one email in a day, or while the server's password
   * checks are all busy (rate-limiter-flexible's login protection scheme).
   */
  signIn: publicProcedure
    .input(SignInInput)
    .output(AuthResultOutput)
    .meta({ openapi: { method: 'POST', path: '/auth/sign-in', tags: ['auth'], summary: 'Sign in; returns a bearer token', protect: false } })
    .mutation(({ ctx, input }) => ctx.svc.auth.signIn(input, ctx.ip)),

  /** Revokes the calling session on every instance and open socket. Errors: UNAUTHORIZED. */
  signOut: authedProcedure.output(OkOutput).meta({ openapi: { method: 'POST', path: '/auth/sign-out', tags: ['auth'], summary: 'Revoke the calling session' } }).mutation(async ({ ctx }) => {
    await ctx.svc.auth.signOut(ctx.token);
    return { ok: true as const };
  }),

  /** The signed-in user `{ id, email, displayName, createdAt }`. Errors: UNAUTHORIZED. */
  me: authedProcedure
    .output(UserOutput)
    .meta({ openapi: { method: 'GET', path: '/auth/me', tags: ['auth'], summary: 'The signed-in user' } })
    .query(({ ctx }) => ctx.user),
});
