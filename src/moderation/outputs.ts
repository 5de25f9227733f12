import { z } from 'zod';
import type { Ban } from './service.js';

/** A ban (`Ban`). */
export const BanOutput = z.object({
  scopeId: z.guid(),
  userId: z.guid(),
  reason: z.string(),
  bannedBy: z.guid().nullable(),
  createdAt: z.date(),
}) satisfies z.ZodType<Ban>;

/** `moderation.ban`: the ban, memberships removed, messages purged. */
export const BanResultOutput = z.object({ ban: BanOutput, left: z.number().int(), purged: z.number().int() });

/** `moderation.unban`. */
export const UnbannedOutput = z.object({ unbanned: z.literal(true) });

/** `moderation.timeout`. */
export const TimeoutOutput = z.object({ userId: z.guid(), timedOutUntil: z.date().nullable() });
