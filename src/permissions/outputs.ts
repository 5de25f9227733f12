import { z } from 'zod';
import { MembershipOutput } from '../members/outputs.js';
import type { Overwrite } from './overwrites.js';
import type { EffectiveView } from './service.js';
import type { Decision, WalkStep } from './compute.js';
import { PERMISSION_NAMES, type PermissionName } from './flags.js';

/** A permissions bitfield: a bigint over tRPC (superjson), a decimal string over REST. */
export const BitfieldOutput = z.bigint();
const FlagNameOutput = z.enum(PERMISSION_NAMES as [PermissionName, ...PermissionName[]]);
const TargetType = z.enum(['role', 'member']);

/** `permissions.effective` (`EffectiveView`). */
export const EffectiveOutput = z.object({
  scopeId: z.guid(),
  userId: z.guid(),
  permissions: BitfieldOutput,
  names: z.array(FlagNameOutput),
  isOwner: z.boolean(),
  isMember: z.boolean(),
  highestRolePosition: z.number().int(),
  timedOutUntil: z.date().nullable(),
}) satisfies z.ZodType<EffectiveView>;

const WalkStepOutput = [
  z.object({ kind: z.literal('role'), scopeId: z.guid(), roleId: z.guid() }),
  z.object({ kind: z.literal('memberGrant'), scopeId: z.guid() }),
  z.object({ kind: z.literal('overwrite'), scopeId: z.guid(), targetType: TargetType, targetId: z.guid(), effect: z.enum(['allow', 'deny']) }),
] as const;
const WalkStepUnion = z.discriminatedUnion('kind', [...WalkStepOutput]) satisfies z.ZodType<WalkStep>;

/** The rule that decided one flag (compute.ts `Decision`). */
const DecisionOutput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('banned') }),
  z.object({ kind: z.literal('owner'), scopeId: z.guid() }),
  z.object({ kind: z.literal('notMember') }),
  z.object({ kind: z.literal('administrator'), scopeId: z.guid(), roleId: z.guid().nullable() }),
  z.object({ kind: z.literal('noView') }),
  z.object({ kind: z.literal('timeout') }),
  z.object({ kind: z.literal('default') }),
  ...WalkStepOutput,
]) satisfies z.ZodType<Decision>;

/** `permissions.explain`: which rule decided a flag, every walk step that touched it, and whether an archive masks it. */
export const ExplanationOutput = z.object({
  flag: FlagNameOutput,
  allowed: z.boolean(),
  decidedBy: DecisionOutput,
  trace: z.array(WalkStepUnion).readonly(),
  archived: z.boolean(),
});

/** One overwrite (`Overwrite`): allow and deny bitfields of a role or member on a scope. */
export const OverwriteOutput = z.object({
  scopeId: z.guid(),
  targetType: TargetType,
  targetId: z.guid(),
  allow: BitfieldOutput,
  deny: BitfieldOutput,
}) satisfies z.ZodType<Overwrite>;

/** `permissions.clearOverwrite`. */
export const ClearedOutput = z.object({ cleared: z.literal(true) });

/** `permissions.setMemberGrant`: the membership with the member's own flags. */
export const MemberGrantOutput = MembershipOutput.extend({ grantedPermissions: BitfieldOutput });
