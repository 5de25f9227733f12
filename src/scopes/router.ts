import { z } from 'zod';
import { limits } from '../config.js';
import { authedProcedure, router } from '../trpc.js';

export const ScopeId = z.uuid({ message: 'scopeId must be a scope id (uuid)' });

export const CreateScopeInput = z.object({
  kind: z.enum(['community', 'group', 'room']),
  parentId: ScopeId.optional(),
  name: z.string().trim().min(1, 'name must not be empty').max(limits.scopeNameMax),
  visibility: z.enum(['public', 'private', 'secret']).optional(),
});

export const scopesRouter = router({
  /**
   * Creates a community (no parent), a group (parent: community or group) or a room
   * (parent: community or group). The caller becomes owner and member.
   * Errors: BAD_REQUEST for wrong nesting or depth; NOT_FOUND for an unknown parent;
   * FORBIDDEN when the caller is not a member of the parent.
   */
  create: authedProcedure.input(CreateScopeInput).mutation(({ ctx, input }) => ctx.svc.scopes.create(ctx.user.id, input)),

  /** A scope the caller is a member of. Errors: NOT_FOUND, FORBIDDEN. */
  get: authedProcedure
    .input(z.object({ scopeId: ScopeId }))
    .query(({ ctx, input }) => ctx.svc.scopes.requireMember(input.scopeId, ctx.user.id)),
});
