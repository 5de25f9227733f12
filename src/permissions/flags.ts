/**
 * Permission flags: one bigint bitfield, named flags, and the conversions used at
 * the edges (JSON carries decimal strings, PostgreSQL a signed 64-bit `bigint`).
 *
 * This file imports nothing: the client SDK re-exports it as is.
 *
 * Bit positions are persisted (roles, overwrites, member grants) and shipped to
 * clients. Never renumber or reuse a bit; add new flags at the end.
 */

/**
 * The named flags, one bit each. Shape: `{ [name]: bigint }` with a single bit set.
 *
 * The flag list is docs/architecture.md "Permissions". `ReadHistory` is added after `View`
 * because the design says a timed-out member keeps "view and read". Unlike Discord's Read
 * Message History it covers the whole conversation, live events included; which part of
 * the backlog a member may read is the scope's `historyVisibility` (`shared` or
 * `joined`, as in Matrix), not this flag.
 */
export const Permission = Object.freeze({
  /** See the scope and its members. Without it a user holds nothing there; reading its conversation also needs ReadHistory. */
  View: 1n << 0n,
  /**
   * Read the conversation: messages, threads, edit history, search, pins, typing, and its
   * event stream (live and replay). Without it a member sees the scope and its members
   * only. How far back a member reads is the scope's historyVisibility.
   */
  ReadHistory: 1n << 1n,
  /** Send messages (and replies, threads). */
  SendMessages: 1n << 2n,
  /** Upload attachments with a message. */
  AttachFiles: 1n << 3n,
  /** Add reactions. */
  AddReactions: 1n << 4n,
  /** Mention @everyone / @here. */
  MentionEveryone: 1n << 5n,
  /** Edit or delete other people's messages. */
  ManageMessages: 1n << 6n,
  /** Pin and unpin messages. */
  PinMessages: 1n << 7n,
  /** Create polls and surveys. */
  CreatePolls: 1n << 8n,
  /** Create calendar events. */
  CreateEvents: 1n << 9n,
  /** Edit, cancel or delete other people's events. */
  ManageEvents: 1n << 10n,
  /** Create invites to the scope. */
  CreateInvites: 1n << 11n,
  /** Remove a member from the scope (they may join again). */
  KickMembers: 1n << 12n,
  /** Ban a member (they may not join again until unbanned). */
  BanMembers: 1n << 13n,
  /** Time a member out (they keep only View and ReadHistory until it ends). */
  TimeoutMembers: 1n << 14n,
  /** Create, edit, delete and assign roles below the actor's highest role. */
  ManageRoles: 1n << 15n,
  /** Edit the scope (name, visibility, overwrites) and delete rooms. */
  ManageScope: 1n << 16n,
  /** Create groups and rooms inside the scope. */
  CreateChildScopes: 1n << 17n,
  /** Accept join requests, edit members' nicknames and memberships. */
  ManageMembers: 1n << 18n,
  /** Read the audit log. */
  ViewAuditLog: 1n << 19n,
  /** Every flag, regardless of overwrites (owner-only actions excepted). Discord's ADMINISTRATOR. */
  Administrator: 1n << 20n,
  /** Vote in polls and answer surveys (without it a member sees results only: announcement-style polls). */
  VoteInPolls: 1n << 21n,
} as const);

/** The name of one flag: `'View' | 'ReadHistory' | ... | 'Administrator'`. */
export type PermissionName = keyof typeof Permission;

/** Every flag name, in bit order (lowest bit first). */
export const PERMISSION_NAMES: readonly PermissionName[] = Object.freeze(
  Object.keys(Permission) as PermissionName[],
);

/** Every defined flag OR'ed together. Bits above it are unknown and ignored by the computation. */
export const ALL_PERMISSIONS: bigint = PERMISSION_NAMES.reduce((acc, name) => acc | Permission[name], 0n);

/**
 * What a timed-out member keeps: View and ReadHistory (docs/architecture.md
 * "Permissions", rule 7).
 */
export const TIMEOUT_PERMISSIONS: bigint = Permission.View | Permission.ReadHistory;

/** The largest value a PostgreSQL `bigint` column holds (2^63 − 1); serialized values must fit. */
export const MAX_PERMISSIONS_VALUE: bigint = (1n << 63n) - 1n;

/**
 * Defaults of the built-in "everyone" role that every community (and group) gets.
 *
 * Modelled on Discord's @everyone defaults (view, read history, send, attach,
 * react, create invites): enough to take part, nothing that reaches or moderates
 * other people. Our choices on top:
 * - CreatePolls is in: a poll is a kind of message, no louder than sending one.
 * - VoteInPolls is in; an owner takes it away for announcement-style polls.
 * - CreateEvents is out: an event lands in everyone's calendar and reminders, so
 *   a community opts in per role.
 * - MentionEveryone, PinMessages and all managing / moderation flags are out.
 */
export const DEFAULT_EVERYONE_PERMISSIONS: bigint =
  Permission.View |
  Permission.ReadHistory |
  Permission.SendMessages |
  Permission.AttachFiles |
  Permission.AddReactions |
  Permission.CreatePolls |
  Permission.CreateInvites |
  Permission.VoteInPolls;

/**
 * Defaults of the built-in "admin" role: every flag except Administrator.
 *
 * Owners choose which flags the admin role carries (docs/architecture.md
 * "Permissions"). Leaving
 * Administrator out means clearing a flag on the admin role really removes it,
 * and channel overwrites still apply to admins. An owner who wants admins to
 * bypass overwrites adds Administrator explicitly.
 */
export const DEFAULT_ADMIN_PERMISSIONS: bigint = ALL_PERMISSIONS & ~Permission.Administrator;

/**
 * Actions no flag grants, not even Administrator: only an owner of the scope or
 * of one of its ancestors may do them (`EffectivePermissions.isOwner`).
 *
 * - `manageOwners`: add or remove owners, transfer ownership (the last-owner rule
 *   is enforced by a trigger).
 * - `deleteScope`: delete a community or group with its subtree and history
 *   (rooms are deleted with ManageScope).
 * - `editAdminRole`: change the flags of the built-in admin role (docs/architecture.md
 *   "Permissions": owners choose the admin role's flags).
 * - `grantMemberFlags`: give a single member flags of their own (docs/architecture.md
 *   "Permissions": owners may grant a member flags of their own).
 * - `actOnOwner`: kick, ban, time out, or change the roles of an owner (see
 *   `canActOn`).
 */
export const OWNER_ONLY_ACTIONS = Object.freeze([
  'manageOwners',
  'deleteScope',
  'editAdminRole',
  'grantMemberFlags',
  'actOnOwner',
] as const);

/** One of `OWNER_ONLY_ACTIONS`. */
export type OwnerOnlyAction = (typeof OWNER_ONLY_ACTIONS)[number];

/**
 * True when every bit of `flag` is set in `perms` (so several flags OR'ed
 * together means "all of them"; `flag = 0n` is vacuously true).
 */
export function has(perms: bigint, flag: bigint): boolean {
  return (perms & flag) === flag;
}

/** The names of the flags set in `perms`, in bit order. Unknown bits are dropped. */
export function toNames(perms: bigint): PermissionName[] {
  return PERMISSION_NAMES.filter((name) => (perms & Permission[name]) !== 0n);
}

/**
 * The bitfield of the given flag names. Throws `RangeError` on a name that is
 * not a flag (input may come from untyped JSON).
 */
export function fromNames(names: Iterable<PermissionName>): bigint {
  let perms = 0n;
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(Permission, name)) {
      throw new RangeError(`unknown permission flag: ${String(name)}`);
    }
    perms |= Permission[name];
  }
  return perms;
}

/**
 * A bitfield as the decimal string that JSON carries (`123n` → `"123"`).
 * Throws `RangeError` when it is negative or above `MAX_PERMISSIONS_VALUE`
 * (it would not fit the database's signed 64-bit `bigint`).
 */
export function serializePermissions(perms: bigint): string {
  if (perms < 0n || perms > MAX_PERMISSIONS_VALUE) {
    throw new RangeError(`permissions out of range: ${perms}`);
  }
  return perms.toString(10);
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,18})$/;

/**
 * Parses a decimal string from JSON or the database (`"123"` → `123n`).
 * Accepts only canonical non-negative decimals (no sign, spaces, leading zeros
 * or hex) up to `MAX_PERMISSIONS_VALUE`; throws `RangeError` otherwise.
 * Unknown bits are kept, so an older client can round-trip a newer server's
 * flags; the computation ignores them.
 */
export function parsePermissions(text: string): bigint {
  if (!DECIMAL.test(text)) {
    throw new RangeError(`not a permissions value: ${JSON.stringify(text)}`);
  }
  const perms = BigInt(text);
  if (perms > MAX_PERMISSIONS_VALUE) {
    throw new RangeError(`permissions out of range: ${text}`);
  }
  return perms;
}
