/**
 * Effective permissions of one user in one scope: a pure function of what one
 * query over the scope's path returns. No I/O, no clock (the caller passes `now`).
 *
 * The rules, in the order they decide (first match wins):
 * 1. banned in the target scope: nothing.
 * 2. owner of the target scope or of any ancestor: every flag, and the owner-only
 *    actions (docs/architecture.md "Permissions": owners of a scope or of
 *    any ancestor hold every flag below it). Owners are not subject to timeouts or overwrites.
 * 3. not a member of the target scope: nothing (previews of public scopes are
 *    decided by the scopes service, not here).
 * 4. the path walk, root first, target last. At each level:
 *    a. the roles granted there: the everyone role(s) and the user's assigned roles
 *       defined at that level, plus the owner's member grant for that level, OR'ed
 *       into what the levels above left;
 *    b. the overwrites on that scope in Discord's order: the @everyone overwrite,
 *       then the union of the user's role overwrites, then the member overwrite;
 *       each stage is `perms = (perms & ~deny) | allow` (deny before allow, role
 *       before member).
 *    Roles defined on a community or group therefore apply to its whole subtree,
 *    and an overwrite on a scope carries down to its children until a lower level
 *    changes it.
 * 5. Administrator, from any role or member grant on the path: every flag. As in
 *    Discord, overwrites cannot carry Administrator and do not apply to it.
 * 6. no View after the walk: nothing.
 * 7. timed out (`timedOutUntil > now`): only View and ReadHistory are kept
 *    (docs/architecture.md), Administrators included.
 */
import { ALL_PERMISSIONS, Permission, TIMEOUT_PERMISSIONS, type PermissionName } from './flags.js';

// ───────────────────────────── inputs and outputs ─────────────────────────────

/** A role defined on a community or group (one row of `roles`). */
export interface RoleInput {
  readonly id: string;
  /** Rank in the community's role order; higher outranks lower. One order across the whole community. */
  readonly position: number;
  readonly permissions: bigint;
  /** The built-in everyone role of its scope: every member holds it without an assignment. */
  readonly isEveryone?: boolean;
}

/** One permission overwrite on a scope (one row of `permission_overwrites`). */
export interface OverwriteInput {
  readonly targetType: 'role' | 'member';
  /** A role id when `targetType` is 'role', a user id when 'member'. */
  readonly targetId: string;
  readonly allow: bigint;
  readonly deny: bigint;
}

/** One scope on the path, with what is defined on it. */
export interface PathLevel {
  readonly scopeId: string;
  /** The owners of this scope (only communities and groups have any). */
  readonly ownerIds: readonly string[];
  /** Roles DEFINED on this scope (empty for rooms). */
  readonly roles: readonly RoleInput[];
  /** Overwrites ON this scope. */
  readonly overwrites: readonly OverwriteInput[];
  /** Flags an owner gave this user at this level; applies like a role defined here. */
  readonly memberGrant?: bigint;
}

/** Everything the computation needs for one (user, scope). */
export interface ComputeInput {
  readonly userId: string;
  /** Root first, target scope last. */
  readonly path: readonly PathLevel[];
  /** Ids of the roles assigned to the user. Ids not defined on the path are ignored. */
  readonly userRoleIds: ReadonlySet<string>;
  /** Membership of the target scope. */
  readonly isMember: boolean;
  /** Banned from the target scope (or an ancestor: the caller folds that in). */
  readonly banned?: boolean;
  /** End of the user's timeout; active while strictly after `now`. */
  readonly timedOutUntil?: Date | null;
  readonly now: Date;
}

/** The result of `computePermissions`. */
export interface EffectivePermissions {
  /** Effective flags in the target scope; always a subset of `ALL_PERMISSIONS`. */
  readonly permissions: bigint;
  /** Owner of the target scope or an ancestor: may perform `OWNER_ONLY_ACTIONS`. False when banned. */
  readonly isOwner: boolean;
  /** Highest `position` among roles the user holds on the path (everyone roles included); -1 when none. */
  readonly highestRolePosition: number;
}

/** A step of the path walk that set or cleared a flag. */
export type WalkStep =
  | { readonly kind: 'role'; readonly scopeId: string; readonly roleId: string }
  | { readonly kind: 'memberGrant'; readonly scopeId: string }
  | {
      readonly kind: 'overwrite';
      readonly scopeId: string;
      readonly targetType: 'role' | 'member';
      readonly targetId: string;
      readonly effect: 'allow' | 'deny';
    };

/** The rule that decided one flag (see the rule list at the top of this file). */
export type Decision =
  | { readonly kind: 'banned' }
  | { readonly kind: 'owner'; readonly scopeId: string }
  | { readonly kind: 'notMember' }
  /** `roleId` is null when the Administrator flag came from a member grant. */
  | { readonly kind: 'administrator'; readonly scopeId: string; readonly roleId: string | null }
  | { readonly kind: 'noView' }
  | { readonly kind: 'timeout' }
  /** No role, grant or overwrite on the path mentions the flag. */
  | { readonly kind: 'default' }
  | WalkStep;

/** The result of `explain`. */
export interface Explanation {
  readonly flag: PermissionName;
  readonly allowed: boolean;
  readonly decidedBy: Decision;
  /**
   * Every step of the path walk that set or cleared the flag, root first. Empty
   * when the walk did not run (banned, owner, not a member). When `decidedBy` is
   * a walk step it is the last entry here.
   */
  readonly trace: readonly WalkStep[];
}

// ───────────────────────────── shared preparation ─────────────────────────────

/** Overwrites cannot carry Administrator (Discord rejects it in overwrites too). */
const OVERWRITABLE = ALL_PERMISSIONS & ~Permission.Administrator;

interface Grant {
  /** null: the member grant. */
  readonly roleId: string | null;
  readonly bits: bigint;
}

interface Stage {
  readonly targetType: 'role' | 'member';
  /** Sorted by target role position (highest first), then target id: the first match is the one explain names. */
  readonly overwrites: readonly OverwriteInput[];
}

interface ResolvedLevel {
  readonly scopeId: string;
  /** Held roles defined here, highest position first, then the member grant. */
  readonly grants: readonly Grant[];
  /** @everyone overwrites, the user's role overwrites, the user's member overwrites. */
  readonly stages: readonly [Stage, Stage, Stage];
}

interface Resolved {
  readonly isOwner: boolean;
  readonly ownerScopeId: string | null;
  readonly highestRolePosition: number;
  readonly levels: readonly ResolvedLevel[];
  readonly timedOut: boolean;
}

function byRank(positions: ReadonlyMap<string, number>) {
  return (a: { targetId: string }, b: { targetId: string }): number =>
    (positions.get(b.targetId) ?? 0) - (positions.get(a.targetId) ?? 0) ||
    (a.targetId < b.targetId ? -1 : a.targetId > b.targetId ? 1 : 0);
}

function assertValidDate(date: Date, name: string): void {
  if (Number.isNaN(date.getTime())) throw new RangeError(`${name} is an invalid Date`);
}

/**
 * Who holds what on each level, independent of the order of the input arrays.
 * Bit arithmetic is left to `computePermissions` and `explain`, which do it
 * independently (whole bitfields vs one flag) so the property tests can hold
 * one against the other.
 */
function resolve(input: ComputeInput): Resolved {
  assertValidDate(input.now, 'now');
  if (input.timedOutUntil) assertValidDate(input.timedOutUntil, 'timedOutUntil');

  const ownerLevel = input.path.find((level) => level.ownerIds.includes(input.userId));
  const everyoneIds = new Set<string>();
  const heldIds = new Set<string>();
  const positions = new Map<string, number>();
  let highestRolePosition = -1;
  const levels: ResolvedLevel[] = [];

  for (const level of input.path) {
    const held = level.roles
      .filter((role) => role.isEveryone === true || input.userRoleIds.has(role.id))
      .sort((a, b) => b.position - a.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const role of held) {
      (role.isEveryone === true ? everyoneIds : heldIds).add(role.id);
      positions.set(role.id, role.position);
      highestRolePosition = Math.max(highestRolePosition, role.position);
    }
    const grants: Grant[] = held.map((role) => ({ roleId: role.id, bits: role.permissions & ALL_PERMISSIONS }));
    if (level.memberGrant !== undefined) {
      grants.push({ roleId: null, bits: level.memberGrant & ALL_PERMISSIONS });
    }

    // Roles count from the level that defines them down: an overwrite here may
    // target a role of this level or an ancestor, never one defined below.
    const rank = byRank(positions);
    const pick = (test: (ow: OverwriteInput) => boolean): OverwriteInput[] =>
      level.overwrites
        .filter(test)
        .map((ow) => ({ ...ow, allow: ow.allow & OVERWRITABLE, deny: ow.deny & OVERWRITABLE }))
        .sort(rank);
    levels.push({
      scopeId: level.scopeId,
      grants,
      stages: [
        { targetType: 'role', overwrites: pick((ow) => ow.targetType === 'role' && everyoneIds.has(ow.targetId)) },
        { targetType: 'role', overwrites: pick((ow) => ow.targetType === 'role' && heldIds.has(ow.targetId)) },
        {
          targetType: 'member',
          overwrites: pick((ow) => ow.targetType === 'member' && ow.targetId === input.userId),
        },
      ],
    });
  }

  return {
    isOwner: ownerLevel !== undefined,
    ownerScopeId: ownerLevel?.scopeId ?? null,
    highestRolePosition,
    levels,
    timedOut: input.timedOutUntil != null && input.timedOutUntil.getTime() > input.now.getTime(),
  };
}

// ───────────────────────────── compute ─────────────────────────────

/**
 * Effective permissions of `input.userId` in the last scope of `input.path`.
 *
 * Shape: `ComputeInput` → `{ permissions, isOwner, highestRolePosition }`. Rules:
 * see the top of this file (docs/architecture.md "Permissions"; overwrite order and the
 * Administrator bypass follow Discord's permission computation: base roles,
 * @everyone overwrite, role overwrites, member overwrite).
 * Pure: the result depends on the inputs only, not on the order of `roles` or
 * `overwrites` within a level. Throws `RangeError` on an invalid Date.
 */
export function computePermissions(input: ComputeInput): EffectivePermissions {
  const r = resolve(input);
  const result = (permissions: bigint, isOwner = false): EffectivePermissions => ({
    permissions,
    isOwner,
    highestRolePosition: r.highestRolePosition,
  });

  if (input.banned === true) return result(0n);
  if (r.isOwner) return result(ALL_PERMISSIONS, true);
  if (!input.isMember) return result(0n);

  let perms = 0n;
  let administrator = false;
  for (const level of r.levels) {
    for (const grant of level.grants) perms |= grant.bits;
    if ((perms & Permission.Administrator) !== 0n) {
      administrator = true;
      break;
    }
    for (const stage of level.stages) {
      let allow = 0n;
      let deny = 0n;
      for (const ow of stage.overwrites) {
        allow |= ow.allow;
        deny |= ow.deny;
      }
      perms = (perms & ~deny) | allow;
    }
  }
  if (administrator) perms = ALL_PERMISSIONS;

  if ((perms & Permission.View) === 0n) return result(0n);
  if (r.timedOut) perms &= TIMEOUT_PERMISSIONS;
  return result(perms);
}

// ───────────────────────────── explain ─────────────────────────────

/** Follows one flag through the walk: its value after the path and each step that set or cleared it. */
function walkFlag(levels: readonly ResolvedLevel[], bit: bigint): { value: boolean; trace: WalkStep[] } {
  let value = false;
  const trace: WalkStep[] = [];
  for (const level of levels) {
    const grant = level.grants.find((g) => (g.bits & bit) !== 0n);
    if (grant) {
      value = true;
      trace.push(
        grant.roleId === null
          ? { kind: 'memberGrant', scopeId: level.scopeId }
          : { kind: 'role', scopeId: level.scopeId, roleId: grant.roleId },
      );
    }
    for (const stage of level.stages) {
      // Within a stage allow wins over deny (deny is applied first).
      const allow = stage.overwrites.find((ow) => (ow.allow & bit) !== 0n);
      const deny = stage.overwrites.find((ow) => (ow.deny & bit) !== 0n);
      const decisive = allow ?? deny;
      if (decisive) {
        value = allow !== undefined;
        trace.push({
          kind: 'overwrite',
          scopeId: level.scopeId,
          targetType: stage.targetType,
          targetId: decisive.targetId,
          effect: allow ? 'allow' : 'deny',
        });
      }
    }
  }
  return { value, trace };
}

/** The first role or member grant on the path that carries Administrator, if any. */
function administratorSource(levels: readonly ResolvedLevel[]): Extract<Decision, { kind: 'administrator' }> | null {
  for (const level of levels) {
    const grant = level.grants.find((g) => (g.bits & Permission.Administrator) !== 0n);
    if (grant) return { kind: 'administrator', scopeId: level.scopeId, roleId: grant.roleId };
  }
  return null;
}

/**
 * Which rule decided one flag for `input`, and the walk steps that touched it.
 *
 * Shape: `(ComputeInput, PermissionName)` → `{ flag, allowed, decidedBy, trace }`.
 * `allowed` always equals `has(computePermissions(input).permissions, Permission[flag])`.
 * Precedence: banned, owner, notMember, noView, timeout, administrator, then the
 * last walk step that set or cleared the flag (or `default` when none did). When
 * several roles or overwrites of one stage agree, the one of the highest role
 * position is named (ties: smallest id), so the answer does not depend on input
 * order. Backs `permissions.explain` (docs/architecture.md). Throws `RangeError` on an
 * unknown flag name or an invalid Date.
 */
export function explain(input: ComputeInput, flag: PermissionName): Explanation {
  if (!Object.prototype.hasOwnProperty.call(Permission, flag)) {
    throw new RangeError(`unknown permission flag: ${String(flag)}`);
  }
  const bit = Permission[flag];
  const r = resolve(input);
  const answer = (allowed: boolean, decidedBy: Decision, trace: readonly WalkStep[] = []): Explanation => ({
    flag,
    allowed,
    decidedBy,
    trace,
  });

  if (input.banned === true) return answer(false, { kind: 'banned' });
  if (r.isOwner && r.ownerScopeId !== null) return answer(true, { kind: 'owner', scopeId: r.ownerScopeId });
  if (!input.isMember) return answer(false, { kind: 'notMember' });

  const admin = administratorSource(r.levels);
  const { value, trace } = walkFlag(r.levels, bit);
  const last = trace[trace.length - 1];
  const walked: Explanation = admin ? answer(true, admin, trace) : answer(value, last ?? { kind: 'default' }, trace);

  if (bit !== Permission.View && !admin && !walkFlag(r.levels, Permission.View).value) {
    return answer(false, { kind: 'noView' }, trace);
  }
  if (bit === Permission.View && !walked.allowed) return walked;
  if (r.timedOut && (bit & TIMEOUT_PERMISSIONS) === 0n) return answer(false, { kind: 'timeout' }, trace);
  return walked;
}

// ───────────────────────────── hierarchy ─────────────────────────────

/** Rank in the hierarchy. A role as a target is `{ isOwner: false, highestRolePosition: role.position }`. */
export interface HierarchyRank {
  readonly isOwner: boolean;
  readonly highestRolePosition: number;
  /**
   * For an owner: the depth of the highest scope on the path they own (0 = the community).
   * Omitted: 0. An owner of an ancestor outranks owners of the scopes below it.
   */
  readonly ownerDepth?: number | null;
}

/**
 * May `actor` act on `target` (kick, ban, time out, edit or assign a role)?
 *
 * docs/architecture.md "Permissions": "Nobody can act on a role or a member whose highest role is equal to
 * or above their own" (Discord's role hierarchy). Owners act on anyone who is not
 * an owner; only owners act on owners (`actOnOwner` is owner-only), and only from the
 * same level or above: "owners of an ancestor are owners of the whole subtree; nobody
 * below can act on them" (the owner of a group someone made inside a community cannot
 * act on the community's owners). Administrator does not lift the hierarchy. This
 * checks rank only: the caller also checks the flag the action needs (KickMembers,
 * ManageRoles, ...).
 */
export function canActOn(actor: HierarchyRank, target: HierarchyRank): boolean {
  if (target.isOwner) return actor.isOwner && (actor.ownerDepth ?? 0) <= (target.ownerDepth ?? 0);
  if (actor.isOwner) return true;
  return actor.highestRolePosition > target.highestRolePosition;
}

/**
 * May `actor` grant `flags` (in a role, an overwrite's allow or deny, or a member
 * grant)? Nobody grants a flag they do not hold (Discord's rule for role and
 * overwrite edits); owners hold every flag. Flags outside `ALL_PERMISSIONS`, or
 * negative, are never grantable. Pass the actor's `EffectivePermissions` in the
 * scope being edited.
 */
export function canGrant(actor: { readonly isOwner: boolean; readonly permissions: bigint }, flags: bigint): boolean {
  if (flags < 0n || (flags & ~ALL_PERMISSIONS) !== 0n) return false;
  if (actor.isOwner) return true;
  return (flags & ~actor.permissions) === 0n;
}
