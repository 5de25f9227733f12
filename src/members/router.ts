import { z } from 'zod';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';

export const membersRouter = router({
  /**
   * Joins a public scope whose parent the caller belongs to; idempotent.
   * Returns `{ scopeId, userId, isOwner, joinedAt }`.
   * Errors: NOT_FOUND for an unknown scope; FORBIDDEN for a private scope or without
   * membership of the parent.
   */
  join: authedProcedure
    .input(z.object({ scopeId: ScopeId }))
    .mutation(({ ctx, input }) => ctx.svc.members.join(input.scopeId, ctx.user.id)),
});
