import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { limits } from '../../src/config.js';
import { createTestDatabase, rawPool } from '../helpers/db.js';

// The governance triggers (drizzle/0006_governance_triggers.sql), written to with raw SQL
// the way any code path could.
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function user(): Promise<string> {
  const { rows } = await pool.query(`insert into users (email, display_name, password_hash) values ($1, 'u', 'x') returning id`, [`u-${Math.random()}@example.com`]);
  return rows[0].id;
}
async function scope(kind: string, parentId: string | null): Promise<string> {
  const { rows } = await pool.query(`insert into scopes (kind, parent_id, name) values ($1, $2, $1) returning id`, [kind, parentId]);
  return rows[0].id;
}
const version = async (id: string) => Number((await pool.query(`select perm_version from scopes where id = $1`, [id])).rows[0].perm_version);
const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: { message: string; code: string }) => e);

describe('children-count limit', () => {
  it(`refuses child ${limits.scopeMaxChildren + 1} of one scope, also on a move, and counts deleted children out`, async () => {
    const c = await scope('community', null);
    await pool.query(
      `insert into scopes (kind, parent_id, name) select 'room', $1, 'r' || g from generate_series(1, $2) g`,
      [c, limits.scopeMaxChildren],
    );
    const err = await errorOf(scope('room', c));
    expect(err?.code).toBe('23514');
    expect(err?.message).toMatch(new RegExp(`at most ${limits.scopeMaxChildren} children`));
    expect((await errorOf(scope('group', c)))?.code).toBe('23514'); // a group counts as a child too
    const c2 = await scope('community', null);
    const g = await scope('group', c2);
    await pool.query(`insert into scopes (kind, parent_id, name) select 'room', $1, 'x' || s from generate_series(1, $2) s`, [g, limits.scopeMaxChildren]);
    const g2 = await scope('group', c2);
    const r = await scope('room', g2);
    expect((await errorOf(pool.query(`update scopes set parent_id = $1 where id = $2`, [g, r])))?.code).toBe('23514');
    await pool.query(`update scopes set deleted_at = now() where id = (select id from scopes where parent_id = $1 limit 1)`, [g]);
    await pool.query(`update scopes set parent_id = $1 where id = $2`, [g, r]);
  });

  it(`agrees with limits.scopeMaxDepth (${limits.scopeMaxDepth} levels)`, async () => {
    let parent = await scope('community', null);
    for (let i = 1; i < limits.scopeMaxDepth; i++) parent = await scope('group', parent);
    expect((await errorOf(scope('room', parent)))?.message).toMatch(new RegExp(`at most ${limits.scopeMaxDepth} levels`));
  });
});

describe('ban rule on memberships', () => {
  it('refuses a membership under a scope the user is banned from', async () => {
    const c = await scope('community', null);
    const room = await scope('room', c);
    const u = await user();
    await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [c, u]);
    await pool.query(`insert into bans (scope_id, user_id) values ($1, $2)`, [c, u]);
    expect((await errorOf(pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [room, u])))?.code).toBe('42501');
    await pool.query(`delete from bans where scope_id = $1 and user_id = $2`, [c, u]);
    await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [room, u]);
  });
});

describe('perm_version bump', () => {
  it('bumps the community on roles, assignments, overwrites, memberships, ownership, grants, timeouts, bans and moves', async () => {
    const c = await scope('community', null);
    const g = await scope('group', c);
    const room = await scope('room', g);
    const u = await user();
    const v = await user();
    await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [c, v]);
    const steps: [string, unknown[]][] = [
      [`insert into memberships (scope_id, user_id) values ($1, $2)`, [c, u]],
      [`insert into memberships (scope_id, user_id) values ($1, $2)`, [g, u]],
      [`update memberships set is_owner = true where scope_id = $1 and user_id = $2`, [g, u]],
      [`update memberships set granted_permissions = 4 where scope_id = $1 and user_id = $2`, [g, u]],
      [`update memberships set timed_out_until = now() + interval '1 hour' where scope_id = $1 and user_id = $2`, [g, u]],
      [`insert into roles (id, scope_id, name, position, permissions) values ('00000000-0000-4000-8000-0000000000aa', $1, 'r', 1, 1)`, [g]],
      [`update roles set permissions = 3 where id = '00000000-0000-4000-8000-0000000000aa' and scope_id = $1`, [g]],
      [`insert into role_assignments (role_id, user_id) select '00000000-0000-4000-8000-0000000000aa', $1 where $2::uuid is not null`, [u, g]],
      [`delete from role_assignments where user_id = $1 and $2::uuid is not null`, [u, g]],
      [`insert into permission_overwrites (scope_id, target_type, target_id, deny) values ($1, 'member', $2, 4)`, [room, u]],
      [`update permission_overwrites set deny = 8 where scope_id = $1 and target_id = $2`, [room, u]],
      [`delete from permission_overwrites where scope_id = $1 and target_id = $2`, [room, u]],
      [`insert into bans (scope_id, user_id) values ($1, $2)`, [room, u]],
      [`delete from bans where scope_id = $1 and user_id = $2`, [room, u]],
      [`update scopes set parent_id = $1 where id = $2`, [c, room]],
      [`update scopes set visibility = 'secret' where id = $1 and $2::uuid is not null`, [room, u]],
      [`update scopes set archived_at = now() where id = $1 and $2::uuid is not null`, [room, u]],
      [`delete from roles where scope_id = $1 and $2::uuid is not null`, [g, u]],
      [`delete from memberships where scope_id = $1 and user_id = $2`, [c, v]],
    ];
    for (const [q, params] of steps) {
      const before = await version(c);
      await pool.query(q, params);
      expect(await version(c), q).toBeGreaterThan(before);
    }
    // A message (last_seq, counters) does not bump it.
    const before = await version(c);
    await pool.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'member.joined')`, [room]);
    await pool.query(`update scopes set name = 'renamed' where id = $1`, [room]);
    expect(await version(c)).toBe(before);
  });
});

describe('audit log', () => {
  it('records the actor set per transaction, with before and after, and is append-only', async () => {
    const c = await scope('community', null);
    const u = await user();
    const actor = await user();
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('guildhall.actor_id', $1, true), set_config('guildhall.action', 'members.add', true)`, [actor]);
      await client.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [c, u]);
      await client.query(`update scopes set name = 'New name' where id = $1`, [c]);
      await client.query('commit');
    } finally {
      client.release();
    }
    await pool.query(`delete from memberships where scope_id = $1 and user_id = $2`, [c, u]); // no actor set
    const { rows } = await pool.query(`select * from audit_log where community_id = $1 order by id`, [c]);
    expect(rows.map((r) => r.action)).toEqual(['scope.create', 'member.add', 'scope.update', 'member.remove']);
    expect(rows[1]).toMatchObject({ actor_id: actor, context: 'members.add', target_type: 'user', target_id: u, before: null });
    expect(rows[2].before).toMatchObject({ name: 'community' });
    expect(rows[2].after).toMatchObject({ name: 'New name' });
    expect(rows[3]).toMatchObject({ actor_id: null, after: null });
    expect(rows[3].before).toMatchObject({ user_id: u });
    expect((await errorOf(pool.query(`update audit_log set action = 'x' where community_id = $1`, [c])))?.message).toMatch(/append-only/);
    expect((await errorOf(pool.query(`delete from audit_log where community_id = $1`, [c])))?.message).toMatch(/append-only/);
  });
});
