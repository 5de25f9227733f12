import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computePermissions,
  explain,
  type ComputeInput,
  type OverwriteInput,
  type PathLevel,
  type RoleInput,
} from '../../src/permissions/compute.js';
import {
  ALL_PERMISSIONS,
  has,
  Permission,
  PERMISSION_NAMES,
  TIMEOUT_PERMISSIONS,
} from '../../src/permissions/flags.js';

// ───────────────────────────── generators ─────────────────────────────

const USERS = ['u0', 'u1'] as const;
const NOW = new Date('2025-03-01T12:00:00Z');
/** Defined flags plus a few unknown bits above them, which must be ignored. */
const BITS_MAX = (1n << BigInt(PERMISSION_NAMES.length + 3)) - 1n;
const VIEW_AND_MORE = Permission.View | Permission.ReadHistory | Permission.SendMessages;

/** Bitfields biased towards View being set, otherwise most inputs end in "no View". */
const bits = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: BITS_MAX }) },
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: BITS_MAX }).map((b) => (b | VIEW_AND_MORE) & ~Permission.Administrator) },
  { weight: 1, arbitrary: fc.constant(0n) },
);
/** Overwrite bits: mostly sparse, so allows and denies do not cancel everything out. */
const sparse = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0n) },
  { weight: 3, arbitrary: fc.subarray([...PERMISSION_NAMES], { maxLength: 4 }).map((ns) => ns.reduce((a, n) => a | Permission[n], 0n)) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: BITS_MAX }) },
);

interface RawLevel {
  owners: string[];
  everyone: { position: number; permissions: bigint } | null;
  roles: { position: number; permissions: bigint }[];
  overwrites: { member: boolean; target: number; allow: bigint; deny: bigint }[];
  memberGrant: bigint | undefined;
}

const rawLevel: fc.Arbitrary<RawLevel> = fc.record({
  // The user ("u0") owns a given level one time in ten.
  owners: fc
    .tuple(fc.subarray(['u1', 'someone']), fc.integer({ min: 0, max: 9 }))
    .map(([owners, dice]) => (dice === 0 ? [...owners, 'u0'] : owners)),
  everyone: fc.option(fc.record({ position: fc.constant(0), permissions: bits }), { freq: 2 }),
  roles: fc.array(fc.record({ position: fc.integer({ min: 0, max: 6 }), permissions: bits }), { maxLength: 3 }),
  overwrites: fc.array(
    fc.record({ member: fc.boolean(), target: fc.nat(12), allow: sparse, deny: sparse }),
    { maxLength: 4 },
  ),
  memberGrant: fc.option(sparse, { nil: undefined, freq: 3 }),
});

/**
 * A random path of 1–4 levels for user "u0". Role ids are unique; overwrites
 * target roles of any level (including ones below, or no role: "ghost"), and
 * members "u0" or "u1".
 */
const computeInput: fc.Arbitrary<ComputeInput> = fc
  .record({
    levels: fc.array(rawLevel, { minLength: 1, maxLength: 4 }),
    held: fc.array(fc.nat(12), { maxLength: 6 }),
    isMember: fc.constantFrom(true, true, true, false),
    banned: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
    timeout: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined, freq: 2 }),
  })
  .map(({ levels, held, isMember, banned, timeout }) => {
    const roleIds: string[] = [];
    const path: PathLevel[] = levels.map((raw, i) => {
      const roles: RoleInput[] = [];
      if (raw.everyone) roles.push({ id: `L${i}@everyone`, ...raw.everyone, isEveryone: true });
      raw.roles.forEach((r, j) => roles.push({ id: `L${i}R${j}`, ...r }));
      roleIds.push(...roles.map((r) => r.id));
      return { scopeId: `S${i}`, ownerIds: raw.owners, roles, overwrites: [], memberGrant: raw.memberGrant };
    });
    const targets = [...roleIds, 'ghost'];
    const withOverwrites = path.map((level, i) => ({
      ...level,
      overwrites: (levels[i]?.overwrites ?? []).map(
        (ow): OverwriteInput =>
          ow.member
            ? { targetType: 'member', targetId: USERS[ow.target % USERS.length] ?? 'u0', allow: ow.allow, deny: ow.deny }
            : { targetType: 'role', targetId: targets[ow.target % targets.length] ?? 'ghost', allow: ow.allow, deny: ow.deny },
      ),
    }));
    return {
      userId: 'u0',
      path: withOverwrites,
      userRoleIds: new Set(held.map((h) => targets[h % targets.length] ?? 'ghost')),
      isMember,
      banned,
      timedOutUntil: timeout === undefined ? null : new Date(NOW.getTime() + timeout * 60_000),
      now: NOW,
    };
  });

/** Where to add a new overwrite: a level index and a target (a role on the path, "ghost", or a member). */
const placement = fc.record({ level: fc.nat(), target: fc.nat(), member: fc.boolean() });

function addOverwrite(
  input: ComputeInput,
  where: { level: number; target: number; member: boolean },
  allow: bigint,
  deny: bigint,
): ComputeInput {
  const index = where.level % input.path.length;
  const roleIds = input.path.flatMap((l) => l.roles.map((r) => r.id));
  const targets = [...roleIds, 'ghost'];
  const overwrite: OverwriteInput = where.member
    ? { targetType: 'member', targetId: USERS[where.target % USERS.length] ?? 'u0', allow, deny }
    : { targetType: 'role', targetId: targets[where.target % targets.length] ?? 'ghost', allow, deny };
  return {
    ...input,
    path: input.path.map((l, i) => (i === index ? { ...l, overwrites: [...l.overwrites, overwrite] } : l)),
  };
}

/** A deterministic shuffle driven by a generated seed (fast-check shrinks the seed). */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

const isOwnerOnPath = (input: ComputeInput) => input.path.some((l) => l.ownerIds.includes(input.userId));
const isTimedOut = (input: ComputeInput) => input.timedOutUntil != null && input.timedOutUntil > input.now;
const subset = (a: bigint, b: bigint) => (a & ~b) === 0n;

const RUNS = { numRuns: 600 };

// ───────────────────────────── properties ─────────────────────────────

describe('computePermissions properties', () => {
  it('the generator reaches the interesting regions (guards the other properties against vacuity)', () => {
    const sample = fc.sample(computeInput, { numRuns: 2000, seed: 42 });
    const results = sample.map((i) => ({ i, r: computePermissions(i) }));
    const count = (pred: (x: (typeof results)[number]) => boolean) => results.filter(pred).length;
    expect(count(({ r }) => r.isOwner)).toBeGreaterThan(50);
    expect(count(({ r }) => !r.isOwner && r.permissions !== 0n && r.permissions !== ALL_PERMISSIONS)).toBeGreaterThan(300);
    expect(count(({ i, r }) => isTimedOut(i) && !r.isOwner && r.permissions !== 0n)).toBeGreaterThan(30);
    expect(count(({ i }) => i.path.some((l) => l.overwrites.length > 0))).toBeGreaterThan(500);
  });

  it('result is always a subset of ALL_PERMISSIONS, and banned ⇒ 0n', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        const r = computePermissions(input);
        expect(subset(r.permissions, ALL_PERMISSIONS)).toBe(true);
        if (input.banned) expect(r).toMatchObject({ permissions: 0n, isOwner: false });
      }),
      RUNS,
    );
  });

  it('adding an allow (without a deny for the same flags) never removes a permission', () => {
    fc.assert(
      fc.property(computeInput, placement, sparse, (input, where, allow) => {
        const before = computePermissions(input).permissions;
        const after = computePermissions(addOverwrite(input, where, allow, 0n)).permissions;
        expect(subset(before, after)).toBe(true);
      }),
      RUNS,
    );
  });

  it('adding allow bits to an existing overwrite never removes a permission', () => {
    fc.assert(
      fc.property(computeInput, fc.nat(), fc.nat(), sparse, (input, li, oi, allow) => {
        const level = input.path[li % input.path.length];
        if (!level || level.overwrites.length === 0) return;
        const k = oi % level.overwrites.length;
        const changed: ComputeInput = {
          ...input,
          path: input.path.map((l) =>
            l === level ? { ...l, overwrites: l.overwrites.map((ow, j) => (j === k ? { ...ow, allow: ow.allow | allow } : ow)) } : l,
          ),
        };
        expect(subset(computePermissions(input).permissions, computePermissions(changed).permissions)).toBe(true);
      }),
      RUNS,
    );
  });

  it('adding a deny never adds a permission', () => {
    fc.assert(
      fc.property(computeInput, placement, sparse, (input, where, deny) => {
        const before = computePermissions(input).permissions;
        const after = computePermissions(addOverwrite(input, where, 0n, deny)).permissions;
        expect(subset(after, before)).toBe(true);
      }),
      RUNS,
    );
  });

  it('a member deny on the target scope removes the flag unless owner, Administrator, or a member allow of the same stage', () => {
    fc.assert(
      fc.property(computeInput, fc.constantFrom(...PERMISSION_NAMES.filter((n) => n !== 'Administrator')), (input, name) => {
        const last = input.path.length - 1;
        // Within one stage deny is applied before allow, so an existing member allow keeps the flag.
        const allowedHere = input.path[last]?.overwrites.some(
          (ow) => ow.targetType === 'member' && ow.targetId === input.userId && has(ow.allow, Permission[name]),
        );
        if (allowedHere) return;
        const denied = addOverwrite(input, { level: last, target: 0, member: true }, 0n, Permission[name]);
        const r = computePermissions(denied);
        // Under a timeout the Administrator bit is masked away, so look at the untimed result.
        const admin = has(computePermissions({ ...denied, timedOutUntil: null }).permissions, Permission.Administrator);
        if (!r.isOwner && !admin) expect(has(r.permissions, Permission[name])).toBe(false);
      }),
      RUNS,
    );
  });

  it('an owner of any scope on the path holds every flag, whatever else the input says', () => {
    fc.assert(
      fc.property(computeInput, fc.nat(), (input, at) => {
        if (input.banned) return;
        const index = at % input.path.length;
        const owned: ComputeInput = {
          ...input,
          path: input.path.map((l, i) => (i === index ? { ...l, ownerIds: [...l.ownerIds, input.userId] } : l)),
        };
        expect(computePermissions(owned)).toMatchObject({ permissions: ALL_PERMISSIONS, isOwner: true });
      }),
      RUNS,
    );
  });

  it('isOwner is exactly "listed as owner on the path and not banned"', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        expect(computePermissions(input).isOwner).toBe(isOwnerOnPath(input) && !input.banned);
      }),
      RUNS,
    );
  });

  it('no View ⇒ 0n', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        const { permissions } = computePermissions(input);
        if (!has(permissions, Permission.View)) expect(permissions).toBe(0n);
      }),
      RUNS,
    );
  });

  it('a timed-out non-owner keeps a subset of View | ReadHistory, and exactly the View/ReadHistory bits of the untimed result', () => {
    fc.assert(
      fc.property(computeInput, fc.integer({ min: 1, max: 10_000 }), (input, ms) => {
        const timed: ComputeInput = { ...input, timedOutUntil: new Date(input.now.getTime() + ms) };
        const free: ComputeInput = { ...input, timedOutUntil: null };
        const r = computePermissions(timed);
        if (r.isOwner) {
          expect(r.permissions).toBe(ALL_PERMISSIONS);
          return;
        }
        expect(subset(r.permissions, TIMEOUT_PERMISSIONS)).toBe(true);
        expect(r.permissions).toBe(computePermissions(free).permissions & TIMEOUT_PERMISSIONS);
      }),
      RUNS,
    );
  });

  it('a non-member non-owner holds nothing', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        const r = computePermissions({ ...input, isMember: false });
        if (!isOwnerOnPath(input)) expect(r.permissions).toBe(0n);
      }),
      RUNS,
    );
  });

  it('the result (and every explanation) is independent of the order of roles and overwrites in the input arrays', () => {
    fc.assert(
      fc.property(computeInput, fc.integer(), (input, seed) => {
        const shuffled: ComputeInput = {
          ...input,
          path: input.path.map((l, i) => ({
            ...l,
            roles: shuffle(l.roles, seed + i),
            overwrites: shuffle(l.overwrites, seed * 31 + i),
            ownerIds: shuffle(l.ownerIds, seed ^ i),
          })),
          userRoleIds: new Set(shuffle([...input.userRoleIds], seed)),
        };
        expect(computePermissions(shuffled)).toEqual(computePermissions(input));
        for (const name of PERMISSION_NAMES) expect(explain(shuffled, name)).toEqual(explain(input, name));
      }),
      { numRuns: 300 },
    );
  });
});

describe('explain properties', () => {
  const ALLOWING = new Set(['owner', 'administrator', 'role', 'memberGrant']);
  const DENYING = new Set(['banned', 'notMember', 'noView', 'timeout', 'default']);

  it('explain agrees with computePermissions on every flag, and its decision has the matching polarity', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        const { permissions } = computePermissions(input);
        for (const name of PERMISSION_NAMES) {
          const e = explain(input, name);
          expect(e.flag).toBe(name);
          expect(e.allowed, name).toBe(has(permissions, Permission[name]));
          const kind = e.decidedBy.kind;
          if (kind === 'overwrite') expect(e.allowed).toBe(e.decidedBy.effect === 'allow');
          else if (ALLOWING.has(kind)) expect(e.allowed).toBe(true);
          else expect(DENYING.has(kind) && !e.allowed).toBe(true);
          // a walk step that decides is the last step of the trace
          if (kind === 'role' || kind === 'memberGrant' || kind === 'overwrite') expect(e.trace.at(-1)).toEqual(e.decidedBy);
          if (kind === 'default') expect(e.trace).toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it('explain names a role or overwrite that exists in the input for that scope', () => {
    fc.assert(
      fc.property(computeInput, (input) => {
        for (const name of PERMISSION_NAMES) {
          for (const step of explain(input, name).trace) {
            const level = input.path.find((l) => l.scopeId === step.scopeId);
            expect(level).toBeDefined();
            if (step.kind === 'role') {
              const role = level?.roles.find((r) => r.id === step.roleId);
              expect(role && has(role.permissions, Permission[name])).toBe(true);
            } else if (step.kind === 'memberGrant') {
              expect(has(level?.memberGrant ?? 0n, Permission[name])).toBe(true);
            } else {
              const ow = level?.overwrites.find(
                (o) =>
                  o.targetType === step.targetType &&
                  o.targetId === step.targetId &&
                  has(step.effect === 'allow' ? o.allow : o.deny, Permission[name]),
              );
              expect(ow).toBeDefined();
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
