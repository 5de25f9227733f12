import { authRouter } from './auth/router.js';
import { membersRouter } from './members/router.js';
import { messagesRouter } from './messages/router.js';
import { scopesRouter } from './scopes/router.js';
import { publicProcedure, router } from './trpc.js';

/** The whole API: one router per domain. Its type ships in the SDK as `AppRouter`. */
export const appRouter = router({
  /** `{ ok: true, time }` while the server runs; needs no token. */
  health: publicProcedure.query(() => ({ ok: true as const, time: new Date() })),
  auth: authRouter,
  scopes: scopesRouter,
  members: membersRouter,
  messages: messagesRouter,
});

export type AppRouter = typeof appRouter;
