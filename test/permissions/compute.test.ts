import { describe, expect, it } from 'vitest';
import {
  canActOn,
  canGrant,
  computePermissions,
  explain,
  type ComputeInput,
  type Decision,
  type OverwriteInput,
  type PathLevel,
  type RoleInput,
  type WalkStep,
} from '../../src/permissions/compute.js';
import {
  ALL_PERMISSIONS,
  DEFAULT_ADMIN_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  fromNames,
  has,
  MAX_PERMISSIONS_VALUE,
  OWNER_ONLY_ACTIONS,
  parsePermissions,
  Permission,
  PERMISSION_NAMES,
  serializePermissions,
  TIMEOUT_PERMISSIONS,
  toNames,
  type PermissionName,
} from '../../src/permissions/flags.js';

// ───────────── builders: a community C > group G > room R, user "u" ─────────────

const U = 'u';
const NOW = new Date('2025-03-01T12:00:00Z');
const ALL_NAMES = [...PERMISSION_NAMES];
const EVERYONE_NAMES = toNames(DEFAULT_EVERYONE_PERMISSIONS);

const role = (id: string, position: number, names: PermissionName[], isEveryone = false): RoleInput => ({
  id,
  position,
  permissions: fromNames(names),
  isEveryone,
});
const everyone = (id: string, names: PermissionName[] = EVERYONE_NAMES): RoleInput => role(id, 0, names, true);
const roleOw = (targetId: string, allow: PermissionName[], deny: PermissionName[]): OverwriteInput => ({
  targetType: 'role',
  targetId,
  allow: fromNames(allow),
  deny: fromNames(deny),
});
const memberOw = (targetId: string, allow: PermissionName[], deny: PermissionName[]): OverwriteInput => ({
  targetType: 'member',
  targetId,
  allow: fromNames(allow),
  deny: fromNames(deny),
});
const level = (scopeId: string, parts: Partial<Omit<PathLevel, 'scopeId'>> = {}): PathLevel => ({
  scopeId,
  ownerIds: [],
  roles: [],
  overwrites: [],
  ...parts,
});
const input = (path: PathLevel[], parts: Partial<Omit<ComputeInput, 'path'>> = {}): ComputeInput => ({
  userId: U,
  path,
  userRoleIds: new Set(),
  isMember: true,
  now: NOW,
  ...parts,
});
const roles = (...ids: string[]) => new Set(ids);

/** The usual shape: community with an everyone role, a group, a room. */
const C = (parts: Partial<Omit<PathLevel, 'scopeId'>> = {}) =>
  level('C', { roles: [everyone('C@everyone')], ...parts });
const G = (parts: Partial<Omit<PathLevel, 'scopeId'>> = {}) => level('G', parts);
const R = (parts: Partial<Omit<PathLevel, 'scopeId'>> = {}) => level('R', parts);

const without = (names: PermissionName[], drop: PermissionName[]) => names.filter((n) => !drop.includes(n));

// ───────────────────────────── flags ─────────────────────────────

describe('flags', () => {
  it('every flag is one distinct bit, and ALL_PERMISSIONS is their union', () => {
    const bits = PERMISSION_NAMES.map((n) => Permission[n]);
    for (const bit of bits) expect(bit & (bit - 1n)).toBe(0n);
    expect(new Set(bits).size).toBe(bits.length);
    expect(ALL_PERMISSIONS).toBe((1n << BigInt(bits.length)) - 1n);
    expect(PERMISSION_NAMES.slice(0, 3)).toEqual(['View', 'ReadHistory', 'SendMessages']);
    expect(PERMISSION_NAMES.at(-2)).toBe('Administrator');
    expect(PERMISSION_NAMES.at(-1)).toBe('VoteInPolls');
    expect(PERMISSION_NAMES).toHaveLength(22);
  });

  it('bit positions are pinned (they are stored in the database)', () => {
    expect(Permission.View).toBe(1n);
    expect(Permission.ReadHistory).toBe(2n);
    expect(Permission.SendMessages).toBe(4n);
    expect(Permission.ManageRoles).toBe(1n << 15n);
    expect(Permission.Administrator).toBe(1n << 20n);
    expect(Permission.VoteInPolls).toBe(1n << 21n);
  });

  it('has() needs every bit of the flag', () => {
    const perms = Permission.View | Permission.SendMessages;
    expect(has(perms, Permission.View)).toBe(true);
    expect(has(perms, Permission.View | Permission.SendMessages)).toBe(true);
    expect(has(perms, Permission.View | Permission.AttachFiles)).toBe(false);
    expect(has(perms, Permission.AttachFiles)).toBe(false);
    expect(has(0n, 0n)).toBe(true);
  });

  it('toNames / fromNames round-trip in bit order and drop unknown bits', () => {
    expect(toNames(0n)).toEqual([]);
    expect(toNames(Permission.Administrator | Permission.View)).toEqual(['View', 'Administrator']);
    expect(toNames(ALL_PERMISSIONS | (1n << 40n))).toEqual(ALL_NAMES);
    expect(fromNames(['SendMessages', 'View', 'View'])).toBe(Permission.View | Permission.SendMessages);
    expect(fromNames(ALL_NAMES)).toBe(ALL_PERMISSIONS);
    expect(() => fromNames(['Nope' as PermissionName])).toThrow(RangeError);
    expect(() => fromNames(['toString' as PermissionName])).toThrow(RangeError);
  });

  it('serializePermissions / parsePermissions use canonical decimal strings within PostgreSQL bigint', () => {
    expect(serializePermissions(0n)).toBe('0');
    expect(serializePermissions(ALL_PERMISSIONS)).toBe('4194303');
    expect(parsePermissions('4194303')).toBe(ALL_PERMISSIONS);
    expect(parsePermissions(serializePermissions(MAX_PERMISSIONS_VALUE))).toBe(MAX_PERMISSIONS_VALUE);
    expect(parsePermissions('4398046511104')).toBe(1n << 42n); // unknown bits survive a round trip
    expect(() => serializePermissions(-1n)).toThrow(RangeError);
    expect(() => serializePermissions(MAX_PERMISSIONS_VALUE + 1n)).toThrow(RangeError);
    for (const bad of ['', '-1', '+1', '01', ' 1', '1 ', '0x10', '1e3', '1.0', '9223372036854775808', '99999999999999999999']) {
      expect(() => parsePermissions(bad), bad).toThrow(RangeError);
    }
  });

  it('default everyone role: view, read, send, attach, react, polls, invites, vote', () => {
    expect(toNames(DEFAULT_EVERYONE_PERMISSIONS)).toEqual([
      'View',
      'ReadHistory',
      'SendMessages',
      'AttachFiles',
      'AddReactions',
      'CreatePolls',
      'CreateInvites',
      'VoteInPolls',
    ]);
  });

  it('default admin role: every flag but Administrator', () => {
    expect(toNames(DEFAULT_ADMIN_PERMISSIONS)).toEqual(without(ALL_NAMES, ['Administrator']));
    expect(TIMEOUT_PERMISSIONS).toBe(Permission.View | Permission.ReadHistory);
    expect(OWNER_ONLY_ACTIONS).toEqual(['manageOwners', 'deleteScope', 'editAdminRole', 'grantMemberFlags', 'actOnOwner']);
  });
});

// ───────────────────────────── computePermissions: table ─────────────────────────────

interface Case {
  name: string;
  input: ComputeInput;
  /** Expected flags, by name, in bit order. */
  expect: PermissionName[];
  isOwner?: boolean;
  highestRolePosition?: number;
}

const cases: Case[] = [
  // ── baseline
  {
    name: 'member with only the everyone role gets the everyone defaults in a room',
    input: input([C(), G(), R()]),
    expect: EVERYONE_NAMES,
    highestRolePosition: 0,
  },
  {
    name: 'empty path: nothing',
    input: input([]),
    expect: [],
    highestRolePosition: -1,
  },
  {
    name: 'no roles anywhere: nothing (no View)',
    input: input([level('C'), level('R')]),
    expect: [],
    highestRolePosition: -1,
  },
  {
    name: 'unknown bits in a role are dropped',
    input: input([level('C', { roles: [{ id: 'e', position: 0, permissions: Permission.View | (1n << 50n), isEveryone: true }] })]),
    expect: ['View'],
  },

  // ── banned, not a member
  {
    name: 'banned member with an Administrator role: nothing',
    input: input([C({ roles: [everyone('C@everyone'), role('boss', 9, ['Administrator'])] })], {
      userRoleIds: roles('boss'),
      banned: true,
    }),
    expect: [],
    isOwner: false,
  },
  {
    name: 'banned owner: nothing, and not reported as owner',
    input: input([C({ ownerIds: [U] }), R()], { banned: true }),
    expect: [],
    isOwner: false,
  },
  {
    name: 'not a member of the target room: nothing, whatever the roles say',
    input: input([C({ roles: [everyone('C@everyone'), role('mod', 5, ['View', 'KickMembers'])] }), R()], {
      userRoleIds: roles('mod'),
      isMember: false,
    }),
    expect: [],
    highestRolePosition: 5,
  },

  // ── owners
  {
    name: 'owner of the target scope: everything',
    input: input([C({ ownerIds: ['someone', U] })]),
    expect: ALL_NAMES,
    isOwner: true,
  },
  {
    name: 'owner of the community, not a member of the room: everything in the room',
    input: input([C({ ownerIds: [U] }), G(), R()], { isMember: false }),
    expect: ALL_NAMES,
    isOwner: true,
  },
  {
    name: 'owner of the group: overwrites denying them in the room do not apply',
    input: input([C(), G({ ownerIds: [U] }), R({ overwrites: [memberOw(U, [], ALL_NAMES), roleOw('C@everyone', [], ['View'])] })]),
    expect: ALL_NAMES,
    isOwner: true,
  },
  {
    name: 'owner is not subject to a timeout',
    input: input([C({ ownerIds: [U] })], { timedOutUntil: new Date(NOW.getTime() + 60_000) }),
    expect: ALL_NAMES,
    isOwner: true,
  },
  {
    name: 'owner of a sibling is not an owner here (ownerIds of the path only)',
    input: input([C(), G({ ownerIds: ['other'] }), R()]),
    expect: EVERYONE_NAMES,
    isOwner: false,
  },

  // ── roles
  {
    name: 'assigned role adds its flags to the everyone role',
    input: input([C({ roles: [everyone('C@everyone'), role('mod', 5, ['KickMembers', 'ManageMessages'])] })], {
      userRoleIds: roles('mod'),
    }),
    expect: [...EVERYONE_NAMES.slice(0, 5), 'ManageMessages', 'CreatePolls', 'CreateInvites', 'KickMembers', 'VoteInPolls'],
    highestRolePosition: 5,
  },
  {
    name: 'a role the user is not assigned does not apply',
    input: input([C({ roles: [everyone('C@everyone'), role('mod', 5, ['KickMembers'])] })]),
    expect: EVERYONE_NAMES,
    highestRolePosition: 0,
  },
  {
    name: 'a community role applies in a room two levels down',
    input: input([C({ roles: [everyone('C@everyone'), role('events', 3, ['CreateEvents'])] }), G(), R()], {
      userRoleIds: roles('events'),
    }),
    expect: [...EVERYONE_NAMES.slice(0, 6), 'CreateEvents', 'CreateInvites', 'VoteInPolls'],
    highestRolePosition: 3,
  },
  {
    name: 'a group role applies in the group and its rooms',
    input: input([C(), G({ roles: [role('g-pin', 2, ['PinMessages'])] }), R()], { userRoleIds: roles('g-pin') }),
    expect: [...EVERYONE_NAMES.slice(0, 5), 'PinMessages', 'CreatePolls', 'CreateInvites', 'VoteInPolls'],
    highestRolePosition: 2,
  },
  {
    name: "a group's own everyone role adds to the community's",
    input: input([C(), G({ roles: [everyone('G@everyone', ['MentionEveryone'])] }), R()]),
    expect: [...EVERYONE_NAMES.slice(0, 5), 'MentionEveryone', 'CreatePolls', 'CreateInvites', 'VoteInPolls'],
  },
  {
    name: 'highest role position is the maximum over every level',
    input: input(
      [C({ roles: [everyone('C@everyone'), role('a', 4, []), role('b', 7, [])] }), G({ roles: [role('c', 6, [])] }), R()],
      { userRoleIds: roles('a', 'b', 'c') },
    ),
    expect: EVERYONE_NAMES,
    highestRolePosition: 7,
  },

  // ── overwrites, one level
  {
    name: '@everyone overwrite denying SendMessages removes it even when a role grants it',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('talker', 2, ['SendMessages'])] }),
        R({ overwrites: [roleOw('C@everyone', [], ['SendMessages'])] }),
      ],
      { userRoleIds: roles('talker') },
    ),
    expect: without(EVERYONE_NAMES, ['SendMessages']),
  },
  {
    name: 'role overwrite allow beats the @everyone overwrite deny (role after everyone)',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('talker', 2, [])] }),
        R({ overwrites: [roleOw('C@everyone', [], ['SendMessages']), roleOw('talker', ['SendMessages'], [])] }),
      ],
      { userRoleIds: roles('talker') },
    ),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'role overwrites are a union: one role allows, another denies: allowed',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('a', 2, []), role('b', 3, [])] }),
        R({ overwrites: [roleOw('a', ['PinMessages'], []), roleOw('b', [], ['PinMessages', 'AddReactions'])] }),
      ],
      { userRoleIds: roles('a', 'b') },
    ),
    expect: [...without(EVERYONE_NAMES, ['AddReactions']).slice(0, 4), 'PinMessages', 'CreatePolls', 'CreateInvites', 'VoteInPolls'],
  },
  {
    name: 'an overwrite allowing and denying the same flag allows it (deny before allow)',
    input: input([C(), R({ overwrites: [memberOw(U, ['PinMessages'], ['PinMessages'])] })]),
    expect: [...EVERYONE_NAMES.slice(0, 5), 'PinMessages', 'CreatePolls', 'CreateInvites', 'VoteInPolls'],
  },
  {
    name: 'member overwrite deny beats a role overwrite allow (member after role)',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('a', 2, [])] }),
        R({ overwrites: [roleOw('a', ['PinMessages'], []), memberOw(U, [], ['PinMessages', 'SendMessages'])] }),
      ],
      { userRoleIds: roles('a') },
    ),
    expect: without(EVERYONE_NAMES, ['SendMessages']),
  },
  {
    name: 'member overwrite allow beats @everyone and role denies',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('a', 2, [])] }),
        R({
          overwrites: [
            roleOw('C@everyone', [], ['SendMessages']),
            roleOw('a', [], ['SendMessages']),
            memberOw(U, ['SendMessages'], []),
          ],
        }),
      ],
      { userRoleIds: roles('a') },
    ),
    expect: EVERYONE_NAMES,
  },
  {
    name: "another member's overwrite does not apply",
    input: input([C(), R({ overwrites: [memberOw('someone-else', [], ['View'])] })]),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'role overwrite for a role the user does not hold does not apply',
    input: input([C({ roles: [everyone('C@everyone'), role('a', 2, [])] }), R({ overwrites: [roleOw('a', [], ['SendMessages'])] })]),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'role overwrite for an assigned role that is not defined on the path does not apply',
    input: input([C(), R({ overwrites: [roleOw('sibling-role', ['ManageMessages'], [])] })], {
      userRoleIds: roles('sibling-role'),
    }),
    expect: EVERYONE_NAMES,
    highestRolePosition: 0,
  },
  {
    name: 'overwrite on the community targeting a role defined lower, in the group, does not apply',
    input: input(
      [C({ overwrites: [roleOw('g', ['ManageMessages'], [])] }), G({ roles: [role('g', 1, [])] })],
      { userRoleIds: roles('g') },
    ),
    expect: EVERYONE_NAMES,
  },
  {
    name: "overwrite in a room may target the group's everyone role",
    input: input([C(), G({ roles: [everyone('G@everyone', [])] }), R({ overwrites: [roleOw('G@everyone', [], ['AttachFiles'])] })]),
    expect: without(EVERYONE_NAMES, ['AttachFiles']),
  },

  // ── overwrites across levels
  {
    name: 'an overwrite on the group carries down to its room',
    input: input([C(), G({ overwrites: [roleOw('C@everyone', [], ['AttachFiles'])] }), R()]),
    expect: without(EVERYONE_NAMES, ['AttachFiles']),
  },
  {
    name: 'a room overwrite re-allows what the group denied',
    input: input([
      C(),
      G({ overwrites: [roleOw('C@everyone', [], ['AttachFiles'])] }),
      R({ overwrites: [roleOw('C@everyone', ['AttachFiles'], [])] }),
    ]),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'a group role applies after the community overwrite (lower level roles come later in the walk)',
    input: input([C({ overwrites: [roleOw('C@everyone', [], ['SendMessages'])] }), G({ roles: [role('g-talk', 1, ['SendMessages'])] })], {
      userRoleIds: roles('g-talk'),
    }),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'a community role does not come back after a group overwrite removes it',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('pin', 2, ['PinMessages'])] }),
        G({ overwrites: [roleOw('C@everyone', [], ['PinMessages'])] }),
        R(),
      ],
      { userRoleIds: roles('pin') },
    ),
    expect: EVERYONE_NAMES,
  },

  // ── View
  {
    name: 'denying View in the room: nothing at all',
    input: input([C(), R({ overwrites: [roleOw('C@everyone', [], ['View'])] })]),
    expect: [],
  },
  {
    name: 'View denied on the group, re-allowed in a private room for a role',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('staff', 3, [])] }),
        G({ overwrites: [roleOw('C@everyone', [], ['View'])] }),
        R({ overwrites: [roleOw('staff', ['View'], [])] }),
      ],
      { userRoleIds: roles('staff') },
    ),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'a role with many flags but no View: nothing',
    input: input([level('C', { roles: [role('r', 1, without(ALL_NAMES, ['View', 'Administrator']))] })], {
      userRoleIds: roles('r'),
    }),
    expect: [],
  },

  // ── Administrator
  {
    name: 'Administrator role: everything, overwrites ignored, not an owner',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('boss', 9, ['Administrator'])] }),
        R({ overwrites: [roleOw('C@everyone', [], ['View']), memberOw(U, [], ALL_NAMES)] }),
      ],
      { userRoleIds: roles('boss') },
    ),
    expect: ALL_NAMES,
    isOwner: false,
    highestRolePosition: 9,
  },
  {
    name: 'Administrator in an overwrite allow is ignored',
    input: input([C(), R({ overwrites: [memberOw(U, ['Administrator'], [])] })]),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'default admin role (no Administrator) is still bound by overwrites',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), { id: 'admin', position: 50, permissions: DEFAULT_ADMIN_PERMISSIONS }] }),
        R({ overwrites: [roleOw('C@everyone', [], ['BanMembers'])] }),
      ],
      { userRoleIds: roles('admin') },
    ),
    expect: without(ALL_NAMES, ['BanMembers', 'Administrator']),
    highestRolePosition: 50,
  },

  // ── member grant
  {
    name: "owner's member grant adds flags at its level, in the subtree",
    input: input([C({ memberGrant: fromNames(['ViewAuditLog', 'PinMessages']) }), G(), R()]),
    expect: [...EVERYONE_NAMES.slice(0, 5), 'PinMessages', 'CreatePolls', 'CreateInvites', 'ViewAuditLog', 'VoteInPolls'],
  },
  {
    name: 'member grant applies like a role: an @everyone overwrite at the same level removes it',
    input: input([C(), G({ memberGrant: Permission.PinMessages, overwrites: [roleOw('C@everyone', [], ['PinMessages'])] })]),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'member grant with Administrator: everything',
    input: input([C(), G({ memberGrant: Permission.Administrator }), R({ overwrites: [memberOw(U, [], ['View'])] })]),
    expect: ALL_NAMES,
  },

  // ── timeout
  {
    name: 'timed-out member keeps View and ReadHistory only',
    input: input([C()], { timedOutUntil: new Date(NOW.getTime() + 1) }),
    expect: ['View', 'ReadHistory'],
  },
  {
    name: 'timed-out Administrator keeps View and ReadHistory only',
    input: input([C({ roles: [everyone('C@everyone'), role('boss', 9, ['Administrator'])] })], {
      userRoleIds: roles('boss'),
      timedOutUntil: new Date(NOW.getTime() + 60_000),
    }),
    expect: ['View', 'ReadHistory'],
  },
  {
    name: 'timed-out member without ReadHistory keeps View only',
    input: input([C(), R({ overwrites: [roleOw('C@everyone', [], ['ReadHistory'])] })], {
      timedOutUntil: new Date(NOW.getTime() + 60_000),
    }),
    expect: ['View'],
  },
  {
    name: 'timed-out member without View: nothing',
    input: input([C(), R({ overwrites: [memberOw(U, [], ['View'])] })], { timedOutUntil: new Date(NOW.getTime() + 60_000) }),
    expect: [],
  },
  {
    name: 'a timeout ending exactly now is over',
    input: input([C()], { timedOutUntil: new Date(NOW.getTime()) }),
    expect: EVERYONE_NAMES,
  },
  {
    name: 'a timeout that ended in the past is over; null means none',
    input: input([C()], { timedOutUntil: new Date(NOW.getTime() - 1) }),
    expect: EVERYONE_NAMES,
  },
];

describe('computePermissions', () => {
  it.each(cases)('$name', (c) => {
    const result = computePermissions(c.input);
    expect(toNames(result.permissions)).toEqual(c.expect);
    expect(result.permissions).toBe(fromNames(c.expect));
    expect(result.isOwner).toBe(c.isOwner ?? false);
    if (c.highestRolePosition !== undefined) expect(result.highestRolePosition).toBe(c.highestRolePosition);
  });

  it('the table has no duplicate case names', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it('throws RangeError on an invalid Date', () => {
    expect(() => computePermissions(input([C()], { now: new Date(Number.NaN) }))).toThrow(RangeError);
    expect(() => computePermissions(input([C()], { timedOutUntil: new Date('nope') }))).toThrow(RangeError);
  });
});

// ───────────────────────────── explain: table ─────────────────────────────

interface ExplainCase {
  name: string;
  input: ComputeInput;
  flag: PermissionName;
  allowed: boolean;
  decidedBy: Decision;
  trace?: WalkStep[];
}

const explainCases: ExplainCase[] = [
  {
    name: 'banned',
    input: input([C({ ownerIds: [U] })], { banned: true }),
    flag: 'View',
    allowed: false,
    decidedBy: { kind: 'banned' },
    trace: [],
  },
  {
    name: 'owner names the highest scope they own',
    input: input([C(), G({ ownerIds: [U] }), R({ ownerIds: [U] })]),
    flag: 'ManageRoles',
    allowed: true,
    decidedBy: { kind: 'owner', scopeId: 'G' },
    trace: [],
  },
  {
    name: 'not a member',
    input: input([C(), R()], { isMember: false }),
    flag: 'View',
    allowed: false,
    decidedBy: { kind: 'notMember' },
  },
  {
    name: 'everyone role grants SendMessages',
    input: input([C(), G(), R()]),
    flag: 'SendMessages',
    allowed: true,
    decidedBy: { kind: 'role', scopeId: 'C', roleId: 'C@everyone' },
    trace: [{ kind: 'role', scopeId: 'C', roleId: 'C@everyone' }],
  },
  {
    name: 'highest-positioned role is named when several grant the flag',
    input: input([C({ roles: [everyone('C@everyone'), role('low', 1, ['PinMessages']), role('high', 8, ['PinMessages'])] })], {
      userRoleIds: roles('low', 'high'),
    }),
    flag: 'PinMessages',
    allowed: true,
    decidedBy: { kind: 'role', scopeId: 'C', roleId: 'high' },
  },
  {
    name: 'nothing mentions the flag: default deny',
    input: input([C(), R()]),
    flag: 'BanMembers',
    allowed: false,
    decidedBy: { kind: 'default' },
    trace: [],
  },
  {
    name: 'room @everyone deny decides after the community role granted',
    input: input([C(), R({ overwrites: [roleOw('C@everyone', [], ['AttachFiles'])] })]),
    flag: 'AttachFiles',
    allowed: false,
    decidedBy: { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'C@everyone', effect: 'deny' },
    trace: [
      { kind: 'role', scopeId: 'C', roleId: 'C@everyone' },
      { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'C@everyone', effect: 'deny' },
    ],
  },
  {
    name: 'role overwrite allow beats @everyone deny and is named',
    input: input(
      [
        C({ roles: [everyone('C@everyone'), role('a', 2, [])] }),
        R({ overwrites: [roleOw('C@everyone', [], ['SendMessages']), roleOw('a', ['SendMessages'], [])] }),
      ],
      { userRoleIds: roles('a') },
    ),
    flag: 'SendMessages',
    allowed: true,
    decidedBy: { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'a', effect: 'allow' },
    trace: [
      { kind: 'role', scopeId: 'C', roleId: 'C@everyone' },
      { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'C@everyone', effect: 'deny' },
      { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'a', effect: 'allow' },
    ],
  },
  {
    name: 'member overwrite deny is last and decides',
    input: input([C(), G({ overwrites: [memberOw(U, [], ['AddReactions'])] }), R()]),
    flag: 'AddReactions',
    allowed: false,
    decidedBy: { kind: 'overwrite', scopeId: 'G', targetType: 'member', targetId: U, effect: 'deny' },
  },
  {
    name: 'member grant decides',
    input: input([C(), G({ memberGrant: Permission.ViewAuditLog })]),
    flag: 'ViewAuditLog',
    allowed: true,
    decidedBy: { kind: 'memberGrant', scopeId: 'G' },
    trace: [{ kind: 'memberGrant', scopeId: 'G' }],
  },
  {
    name: 'Administrator decides over a deny overwrite',
    input: input(
      [C({ roles: [everyone('C@everyone'), role('boss', 9, ['Administrator'])] }), R({ overwrites: [memberOw(U, [], ['SendMessages'])] })],
      { userRoleIds: roles('boss') },
    ),
    flag: 'SendMessages',
    allowed: true,
    decidedBy: { kind: 'administrator', scopeId: 'C', roleId: 'boss' },
  },
  {
    name: 'Administrator from a member grant names no role',
    input: input([C(), G({ memberGrant: Permission.Administrator })]),
    flag: 'BanMembers',
    allowed: true,
    decidedBy: { kind: 'administrator', scopeId: 'G', roleId: null },
  },
  {
    name: 'no View: every other flag is decided by noView',
    input: input([C(), R({ overwrites: [roleOw('C@everyone', [], ['View'])] })]),
    flag: 'SendMessages',
    allowed: false,
    decidedBy: { kind: 'noView' },
  },
  {
    name: 'no View: View itself names the overwrite that removed it',
    input: input([C(), R({ overwrites: [roleOw('C@everyone', [], ['View'])] })]),
    flag: 'View',
    allowed: false,
    decidedBy: { kind: 'overwrite', scopeId: 'R', targetType: 'role', targetId: 'C@everyone', effect: 'deny' },
  },
  {
    name: 'timeout decides SendMessages',
    input: input([C()], { timedOutUntil: new Date(NOW.getTime() + 1000) }),
    flag: 'SendMessages',
    allowed: false,
    decidedBy: { kind: 'timeout' },
  },
  {
    name: 'timeout keeps ReadHistory, decided by the role',
    input: input([C()], { timedOutUntil: new Date(NOW.getTime() + 1000) }),
    flag: 'ReadHistory',
    allowed: true,
    decidedBy: { kind: 'role', scopeId: 'C', roleId: 'C@everyone' },
  },
];

describe('explain', () => {
  it.each(explainCases)('$name', (c) => {
    const result = explain(c.input, c.flag);
    expect(result.flag).toBe(c.flag);
    expect(result.allowed).toBe(c.allowed);
    expect(result.decidedBy).toEqual(c.decidedBy);
    if (c.trace) expect(result.trace).toEqual(c.trace);
    // explain agrees with compute on every table case
    expect(result.allowed).toBe(has(computePermissions(c.input).permissions, Permission[c.flag]));
  });

  it('agrees with computePermissions on every flag of every compute case', () => {
    for (const c of cases) {
      const perms = computePermissions(c.input).permissions;
      for (const name of PERMISSION_NAMES) {
        expect(explain(c.input, name).allowed, `${c.name} / ${name}`).toBe(has(perms, Permission[name]));
      }
    }
  });

  it('throws RangeError on an unknown flag name', () => {
    expect(() => explain(input([C()]), 'Nope' as PermissionName)).toThrow(RangeError);
  });
});

// ───────────────────────────── hierarchy ─────────────────────────────

describe('canActOn', () => {
  const owner = { isOwner: true, highestRolePosition: -1 };
  const ownerWithRoles = { isOwner: true, highestRolePosition: 99 };
  const mod = { isOwner: false, highestRolePosition: 5 };
  const peer = { isOwner: false, highestRolePosition: 5 };
  const member = { isOwner: false, highestRolePosition: 0 };
  const admin = { isOwner: false, highestRolePosition: 100 };

  it.each([
    ['owner on a member', owner, member, true],
    ['owner without roles on a higher-ranked admin', owner, admin, true],
    ['owner on another owner', owner, ownerWithRoles, true],
    ['admin ranked above an owner still cannot act on the owner', admin, owner, false],
    ['moderator on a lower member', mod, member, true],
    ['moderator on a peer of equal rank', mod, peer, false],
    ['moderator on a higher admin', mod, admin, false],
    ['member on a moderator', member, mod, false],
    ['member on themselves (equal rank)', member, member, false],
    ['moderator on a role just below (position 4)', mod, { isOwner: false, highestRolePosition: 4 }, true],
    ['moderator on a role at their own position', mod, { isOwner: false, highestRolePosition: 5 }, false],
    ['group owner (depth 1) on a community owner (depth 0)', { isOwner: true, highestRolePosition: -1, ownerDepth: 1 }, { isOwner: true, highestRolePosition: -1, ownerDepth: 0 }, false],
    ['community owner on a group owner', { isOwner: true, highestRolePosition: -1, ownerDepth: 0 }, { isOwner: true, highestRolePosition: -1, ownerDepth: 1 }, true],
    ['co-owners of one group', { isOwner: true, highestRolePosition: -1, ownerDepth: 1 }, { isOwner: true, highestRolePosition: 9, ownerDepth: 1 }, true],
  ] as const)('%s → %s', (_name, actor, target, expected) => {
    expect(canActOn(actor, target)).toBe(expected);
  });
});

describe('canGrant', () => {
  const modPerms = fromNames(['View', 'SendMessages', 'KickMembers', 'ManageRoles']);
  it.each([
    ['owner grants Administrator', { isOwner: true, permissions: 0n }, Permission.Administrator, true],
    ['owner grants every flag', { isOwner: true, permissions: ALL_PERMISSIONS }, ALL_PERMISSIONS, true],
    ['moderator grants a flag they hold', { isOwner: false, permissions: modPerms }, Permission.KickMembers, true],
    ['moderator grants a subset they hold', { isOwner: false, permissions: modPerms }, Permission.View | Permission.SendMessages, true],
    ['moderator grants a flag they lack', { isOwner: false, permissions: modPerms }, Permission.BanMembers, false],
    ['moderator grants one held and one lacking flag', { isOwner: false, permissions: modPerms }, Permission.KickMembers | Permission.BanMembers, false],
    ['moderator grants Administrator', { isOwner: false, permissions: modPerms }, Permission.Administrator, false],
    ['administrator grants anything defined', { isOwner: false, permissions: ALL_PERMISSIONS }, ALL_PERMISSIONS, true],
    ['granting nothing is fine', { isOwner: false, permissions: 0n }, 0n, true],
    ['owner cannot grant an undefined bit', { isOwner: true, permissions: ALL_PERMISSIONS }, 1n << 40n, false],
    ['negative flags are refused', { isOwner: true, permissions: ALL_PERMISSIONS }, -1n, false],
  ] as const)('%s → %s', (_name, actor, flags, expected) => {
    expect(canGrant(actor, flags)).toBe(expected);
  });
});
