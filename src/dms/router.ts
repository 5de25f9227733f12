import { z } from 'zod';
import { limits } from '../config.js';
import { UserId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { DirectConversationOutput } from './outputs.js';

export const OpenDmInput = z.object({
  /** The other people (1..9); the caller is added. */
  userIds: z.array(UserId).min(1, 'name at least one other user').max(limits.dmMaxMembers - 1, `at most ${limits.dmMaxMembers - 1} other users`),
});

export const dmsRouter = router({
  /**
   * Opens a direct conversation: `{ scope, memberIds }`. Two people have exactly one DM
   * (the same one on every call); three to ten get a new group DM. Send and subscribe
   * with messages.* on `scope.id`. Errors: BAD_REQUEST, NOT_FOUND (an unknown user).
   */
  open: authedProcedure
    .input(OpenDmInput)
    .output(DirectConversationOutput)
    .meta({ openapi: { method: 'POST', path: '/dms', tags: ['dms'], summary: 'Open a direct conversation' } })
    .mutation(({ ctx, input }) => ctx.svc.dms.open(ctx.user.id, input.userIds)),

  /** The caller's direct conversations, most recently active first: `[{ scope, memberIds }]`. */
  list: authedProcedure
    .output(z.array(DirectConversationOutput))
    .meta({ openapi: { method: 'GET', path: '/dms', tags: ['dms'], summary: 'The caller\'s direct conversations' } })
    .query(({ ctx }) => ctx.svc.dms.list(ctx.user.id)),
});
