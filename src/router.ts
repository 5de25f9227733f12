import { authRouter } from './auth/router.js';
import { auditRouter } from './audit/router.js';
import { dmsRouter } from './dms/router.js';
import { eventsRouter } from './events/router.js';
import { pollsRouter } from './polls/router.js';
import { surveysRouter } from './surveys/router.js';
import { invitesRouter } from './invites/router.js';
import { membersRouter, ownersRouter } from './members/router.js';
import { moderationRouter } from './moderation/router.js';
import { permissionsRouter } from './permissions/router.js';
import { rolesRouter } from './roles/router.js';
import { messagesRouter, pinsRouter, reactionsRouter } from './messages/router.js';
import { readStateRouter } from './readstate/router.js';
import { scopesRouter } from './scopes/router.js';
import { publicProcedure, router } from './trpc.js';
import { meRouter, presenceRouter, typingRouter } from './realtime/router.js';
import { HealthOutput } from './health.js';
import { mediaRouter } from './media/router.js';
import { usersRouter } from './users/router.js';

/** The whole API: one router per domain. Its type ships in the SDK as `AppRouter`. */
export const appRouter = router({
  /** `{ ok: true, time }` while the server runs; needs no token. */
  health: publicProcedure
    .output(HealthOutput)
    .meta({ openapi: { method: 'GET', path: '/health', tags: ['health'], summary: 'Liveness: ok and the server time', protect: false } })
    .query(() => ({ ok: true as const, time: new Date() })),
  auth: authRouter,
  scopes: scopesRouter,
  members: membersRouter,
  owners: ownersRouter,
  roles: rolesRouter,
  permissions: permissionsRouter,
  invites: invitesRouter,
  moderation: moderationRouter,
  audit: auditRouter,
  dms: dmsRouter,
  messages: messagesRouter,
  me: meRouter,
  typing: typingRouter,
  presence: presenceRouter,
  reactions: reactionsRouter,
  pins: pinsRouter,
  readState: readStateRouter,
  events: eventsRouter,
  media: mediaRouter,
  users: usersRouter,
  polls: pollsRouter,
  surveys: surveysRouter,
});

export type AppRouter = typeof appRouter;
