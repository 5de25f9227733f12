import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { AuditPageOutput } from './outputs.js';

export const ListAuditInput = z.object({
  scopeId: ScopeId,
  /** `nextCursor` of the previous page. */
  cursor: z.number().int().min(1).optional(),
  limit: z.number().int().min(1).max(limits.pageMax).default(50),
});

export const auditRouter = router({
  /**
   * The audit log of a scope and its subtree, newest first: `{ items: [{ id, scopeId,
   * actorId, action, context, targetType, targetId, before, after, createdAt }], nextCursor }`.
   * Needs ViewAuditLog. Errors: NOT_FOUND, FORBIDDEN.
   */
  list: authedProcedure
    .input(ListAuditInput)
    .output(AuditPageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/audit-log', tags: ['audit'], summary: 'The audit log of a scope and its subtree' } })
    .query(({ ctx, input }) => ctx.svc.audit.list(ctx.user.id, input.scopeId, input.cursor, input.limit)),
});
