import { z } from 'zod';
import type { Role } from './service.js';

/** A role (`Role`); `permissions` is the bitfield (a bigint; a decimal string over REST). */
export const RoleOutput = z.object({
  id: z.guid(),
  scopeId: z.guid(),
  kind: z.enum(['everyone', 'admin', 'custom']),
  name: z.string(),
  position: z.number().int(),
  permissions: z.bigint(),
  createdAt: z.date(),
}) satisfies z.ZodType<Role>;

/** `roles.assign` / `roles.unassign`: the assignment as it now stands. */
export const AssignmentOutput = z.object({ roleId: z.guid(), userId: z.guid(), assigned: z.boolean() });

/** `roles.delete`. */
export const DeletedRoleOutput = z.object({ deleted: z.literal(true) });
