import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';

/**
 * Roles, defined on a community or group and applying to its whole subtree.
 * `kind` 'everyone' (every member holds it, no assignment) and 'admin' are built in,
 * one of each per community; 'custom' roles are made by roles.create. `position`
 * ranks roles across the whole community (higher outranks lower).
 */
export const roles = pgTable(
  'roles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['everyone', 'admin', 'custom'] }).notNull().default('custom'),
    name: text('name').notNull(),
    position: integer('position').notNull(),
    permissions: bigint('permissions', { mode: 'bigint' }).notNull().default(sql`0`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('roles_scope_idx').on(t.scopeId),
    uniqueIndex('roles_builtin_idx').on(t.scopeId, t.kind).where(sql`${t.kind} <> 'custom'`),
    check('roles_kind_check', sql`${t.kind} in ('everyone', 'admin', 'custom')`),
    check('roles_name_len', sql`char_length(${t.name}) between 1 and 100`),
    check('roles_permissions_nonneg', sql`${t.permissions} >= 0`),
  ],
);

/** Which member holds which custom or admin role. */
export const roleAssignments = pgTable(
  'role_assignments',
  {
    roleId: uuid('role_id')
      .notNull()
      .references(() => roles.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    assignedAt: timestamp('assigned_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.roleId, t.userId] }), index('role_assignments_user_idx').on(t.userId)],
);

/** Allow and deny per role or per member on one scope (Discord's channel overwrites). */
export const permissionOverwrites = pgTable(
  'permission_overwrites',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    targetType: text('target_type', { enum: ['role', 'member'] }).notNull(),
    /** A role id or a user id, by `target_type`. */
    targetId: uuid('target_id').notNull(),
    allow: bigint('allow', { mode: 'bigint' }).notNull().default(sql`0`),
    deny: bigint('deny', { mode: 'bigint' }).notNull().default(sql`0`),
  },
  (t) => [
    primaryKey({ columns: [t.scopeId, t.targetType, t.targetId] }),
    check('permission_overwrites_target_type_check', sql`${t.targetType} in ('role', 'member')`),
    check('permission_overwrites_disjoint', sql`(${t.allow} & ${t.deny}) = 0 and ${t.allow} >= 0 and ${t.deny} >= 0`),
  ],
);

/** A ban from a scope and everything below it. */
export const bans = pgTable(
  'bans',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    reason: text('reason').notNull().default(''),
    bannedBy: uuid('banned_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.userId] }), index('bans_user_idx').on(t.userId)],
);

/** Invite codes to a scope. `uses` counts redemptions; redemption is one conditional UPDATE. */
export const invites = pgTable(
  'invites',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    code: text('code').notNull(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('invites_code_idx').on(t.code),
    index('invites_scope_idx').on(t.scopeId),
    check('invites_uses_check', sql`${t.uses} >= 0 and (${t.maxUses} is null or ${t.uses} <= ${t.maxUses})`),
  ],
);

/**
 * Append-only log of governance changes, written only by triggers
 * (drizzle/*_audit_log_trigger.sql). `actor_id` comes from the transaction setting
 * `guildhall.actor_id`, `context` from `guildhall.action`.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    communityId: uuid('community_id').notNull(),
    scopeId: uuid('scope_id').notNull(),
    actorId: uuid('actor_id'),
    action: text('action').notNull(),
    context: text('context'),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('audit_log_community_idx').on(t.communityId, t.id), index('audit_log_scope_idx').on(t.scopeId, t.id)],
);
