import { z } from 'zod';
import { limits } from '../config.js';
import { userIdNamed } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { DirectConversationOutput } from './outputs.js';

export const OpenDmInput = z.object({
  /** The other people (1..9); the caller is added. */
  userIds: z.array(userIdNamed('each of userIds')).min(1, 'name at least one other user').max(limits.dmMaxMembers - 1, `at most ${limits.dmMaxMembers - 1} other users`),
});

/** Who may open a DM with the caller: members of a shared community (the default) or anyone. */
export const DmSettingsSchema = z.object({
  allowDmsFrom: z.enum(['communities', 'anyone'], { message: "allowDmsFrom is 'communities' or 'anyone'" }),
});

export const dmsRouter = router({
  /**
   * Opens a direct conversation: `{ scope, memberIds }`. Two people have exactly one DM
   * (the same one on every call); three to ten get a new group DM. Send and subscribe
   * with messages.* on `scope.id`. Each other person must share a community with the
   * caller, unless their `allowDmsFrom` is `anyone` (as Discord). Reopening a DM brings
   * the caller back; someone who left stays out until they reopen it. `memberIds` are the
   * members now. Errors: BAD_REQUEST; NOT_FOUND for an unknown user and for one who does
   * not take DMs from the caller (the same answer).
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

  /** Who may open a DM with the caller: `{ allowDmsFrom: 'communities' | 'anyone' }`. Errors: UNAUTHORIZED. */
  settings: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/dms/settings', protect: true, tags: ['dms'] } })
    .input(z.object({}).optional())
    .output(DmSettingsSchema)
    .query(({ ctx }) => ctx.svc.dms.settings(ctx.user.id)),

  /**
   * Sets who may open a DM with the caller: `communities` (members of a shared community,
   * the default, as Discord's "allow direct messages from server members") or `anyone`.
   * DMs already open stay open. Returns the settings. Errors: BAD_REQUEST, UNAUTHORIZED.
   */
  updateSettings: authedProcedure
    .meta({ openapi: { method: 'PUT', path: '/dms/settings', protect: true, tags: ['dms'] } })
    .input(DmSettingsSchema)
    .output(DmSettingsSchema)
    .mutation(({ ctx, input }) => ctx.svc.dms.updateSettings(ctx.user.id, input)),
});
