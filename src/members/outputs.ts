import { z } from 'zod';
import type { MemberPage, Membership } from './service.js';

/** A membership of one user in one scope. */
export const MembershipOutput = z.object({
  scopeId: z.guid(),
  userId: z.guid(),
  isOwner: z.boolean(),
  joinedAt: z.date(),
}) satisfies z.ZodType<Membership>;

/** `members.list`: one page by user id; pass `nextCursor` as `cursor` (null at the end). */
export const MemberPageOutput = z.object({
  items: z.array(MembershipOutput.extend({ displayName: z.string(), timedOutUntil: z.date().nullable() })),
  nextCursor: z.guid().nullable(),
}) satisfies z.ZodType<MemberPage>;

/** How many memberships (the scope's and those below it) were removed. */
export const LeftOutput = z.object({ left: z.number().int() });
