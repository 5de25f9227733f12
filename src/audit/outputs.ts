import { z } from 'zod';
import type { AuditPage } from './service.js';

/** `audit.list`: entries newest first; `before` and `after` are the JSON of the row around the change. */
export const AuditPageOutput = z.object({
  items: z.array(
    z.object({
      id: z.number().int(),
      scopeId: z.guid(),
      actorId: z.guid().nullable(),
      action: z.string(),
      context: z.string().nullable(),
      targetType: z.string(),
      targetId: z.string(),
      before: z.unknown(),
      after: z.unknown(),
      createdAt: z.date(),
    }),
  ),
  nextCursor: z.number().int().nullable(),
}) satisfies z.ZodType<AuditPage>;
