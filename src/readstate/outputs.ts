import { z } from 'zod';
import type { ReadState } from './types.js';

/** A read state (`ReadState`): the caller's read marker and counts in one scope. */
export const ReadStateOutput = z.object({
  scopeId: z.guid(),
  lastReadSeq: z.number().int(),
  unreadCount: z.number().int(),
  mentionCount: z.number().int(),
  updatedAt: z.date(),
}) satisfies z.ZodType<ReadState>;
