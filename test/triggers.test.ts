import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, rawPool } from './helpers/db.js';

// Every trigger is exercised with raw SQL, the way any other code path could write.
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

async function user(name = 'u'): Promise<string> {
  const { rows } = await pool.query(
    `insert into users (email, display_name, password_hash) values ($1, $2, 'x') returning id`,
    [`${name}-${Math.random()}@example.com`, name],
  );
  return rows[0].id;
}
async function scope(kind: string, parentId: string | null, name = kind): Promise<{ id: string; path: string[]; depth: number }> {
  const { rows } = await pool.query(
    `insert into scopes (kind, parent_id, name) values ($1, $2, $3) returning id, path, depth`,
    [kind, parentId, name],
  );
  return rows[0];
}
const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: { message: string; code: string }) => e);

describe('scope path trigger', () => {
  it('keeps path and depth, root first', async () => {
    const c = await scope('community', null);
    const g = await scope('group', c.id);
    const sg = await scope('group', g.id);
    const r = await scope('room', sg.id);
    expect(c).toMatchObject({ path: [], depth: 0 });
    expect(r.path).toEqual([c.id, g.id, sg.id]);
    expect(r.depth).toBe(3);
  });

  it('refuses wrong nesting', async () => {
    const c = await scope('community', null);
    const room = await scope('room', c.id);
    expect((await errorOf(scope('group', null)))?.message).toMatch(/needs a parent/);
    expect((await errorOf(scope('community', c.id)))?.message).toMatch(/cannot have a parent/);
    expect((await errorOf(scope('room', room.id)))?.message).toMatch(/cannot be placed under a room/);
    expect((await errorOf(scope('dm', c.id)))?.code).toBe('23514');
  });

  it('refuses a tree deeper than 6 levels', async () => {
    let parent = await scope('community', null);
    for (let i = 1; i <= 5; i++) parent = await scope('group', parent.id);
    expect(parent.depth).toBe(5);
    expect((await errorOf(scope('room', parent.id)))?.message).toMatch(/at most 6 levels/);
  });

  it('moves a subtree, and refuses a cycle or a move to another community', async () => {
    const c = await scope('community', null);
    const a = await scope('group', c.id);
    const b = await scope('group', c.id);
    const aChild = await scope('room', a.id);
    await pool.query(`update scopes set parent_id = $1 where id = $2`, [b.id, a.id]);
    const { rows } = await pool.query(`select path, depth from scopes where id = $1`, [aChild.id]);
    expect(rows[0]).toEqual({ path: [c.id, b.id, a.id], depth: 3 });
    const cycle = await errorOf(pool.query(`update scopes set parent_id = $1 where id = $2`, [a.id, b.id]));
    expect(cycle?.message).toMatch(/under itself or its own descendant/);
    const other = await scope('community', null);
    const away = await errorOf(pool.query(`update scopes set parent_id = $1 where id = $2`, [other.id, a.id]));
    expect(away?.message).toMatch(/within its own community/);
  });
});

describe('scope_events seq trigger', () => {
  it('assigns gapless seqs under concurrent inserts, and a reader only ever sees a prefix', async () => {
    const c = await scope('community', null);
    const writers = 40;
    let writing = true;
    const gapsSeen: number[][] = [];
    // A reader polls committed seqs while the writers run: commit order equals seq order
    // exactly when every snapshot it reads is 1..n with no hole.
    const reader = (async () => {
      while (writing) {
        const { rows } = await pool.query(`select seq from scope_events where scope_id = $1 order by seq`, [c.id]);
        const seqs = rows.map((r) => Number(r.seq));
        if (seqs.some((s, i) => s !== i + 1)) gapsSeen.push(seqs);
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        const client = await pool.connect();
        try {
          await client.query('begin');
          await client.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'test')`, [c.id]);
          await client.query('select pg_sleep(0.002)'); // hold the lock a moment, as a real transaction does
          await client.query('commit');
        } finally {
          client.release();
        }
      }),
    );
    writing = false;
    await reader;
    expect(gapsSeen).toEqual([]);
    const { rows } = await pool.query(`select seq from scope_events where scope_id = $1 order by seq`, [c.id]);
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: writers }, (_, i) => i + 1));
    const { rows: s } = await pool.query(`select last_seq from scopes where id = $1`, [c.id]);
    expect(Number(s[0].last_seq)).toBe(writers);
  });

  it('makes a second writer wait for the first to commit, then take the next seq', async () => {
    const c = await scope('community', null);
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('begin');
      await b.query('begin');
      const first = await a.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'a') returning seq`, [c.id]);
      let bDone = false;
      const second = b
        .query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'b') returning seq`, [c.id])
        .then((r) => ((bDone = true), r));
      // b is blocked on the scope row lock until a commits.
      // Wait until the server shows b waiting on a lock (polling the catalog, not sleeping).
      let waiting = 0;
      for (let i = 0; i < 500 && waiting === 0; i++) {
        const { rows } = await pool.query(`select count(*)::int as n from pg_locks where not granted and pid = $1`, [
          (b as unknown as { processID: number }).processID,
        ]);
        waiting = rows[0].n;
      }
      expect(waiting).toBeGreaterThan(0);
      expect(bDone).toBe(false);
      await a.query('commit');
      const r = await second;
      await b.query('commit');
      expect([Number(first.rows[0].seq), Number(r.rows[0].seq)]).toEqual([1, 2]);
    } finally {
      a.release();
      b.release();
    }
  });

  it('gives a rolled-back seq back, so the log stays gapless', async () => {
    const c = await scope('community', null);
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'x')`, [c.id]);
      await client.query('rollback');
    } finally {
      client.release();
    }
    const { rows } = await pool.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'x') returning seq`, [c.id]);
    expect(Number(rows[0].seq)).toBe(1);
  });

  it('is append-only: a seq cannot be rewritten', async () => {
    const c = await scope('community', null);
    await pool.query(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'x')`, [c.id]);
    const err = await errorOf(pool.query(`update scope_events set seq = 99 where scope_id = $1`, [c.id]));
    expect(err?.message).toMatch(/append-only/);
  });
});

describe('conversation counters trigger', () => {
  it('counts messages and tracks the last message time', async () => {
    const u = await user();
    const c = await scope('community', null);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { rows } = await pool.query(
        `insert into messages (id, scope_id, seq, author_id, body, created_at)
         values (gen_random_uuid(), $1, $2, $3, 'hi', now() + make_interval(secs => $4)) returning id, created_at`,
        [c.id, i + 1, u, i],
      );
      ids.push(rows[0].id);
    }
    await pool.query(`update messages set deleted_at = now() where id = $1`, [ids[0]]);
    const { rows } = await pool.query(
      `select message_count, last_message_at, (select max(created_at) from messages where scope_id = $1) as newest from scopes where id = $1`,
      [c.id],
    );
    expect(Number(rows[0].message_count)).toBe(2);
    expect(rows[0].last_message_at).toEqual(rows[0].newest);
  });
});

describe('membership triggers', () => {
  it('requires membership of the parent to join a child', async () => {
    const u = await user();
    const c = await scope('community', null);
    const g = await scope('group', c.id);
    const err = await errorOf(pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [g.id, u]));
    expect(err?.message).toMatch(/requires membership of its parent/);
    await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [c.id, u]);
    await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [g.id, u]);
  });

  it('removes the memberships below a scope the user leaves', async () => {
    const u = await user();
    const keep = await user();
    const c = await scope('community', null);
    const g = await scope('group', c.id);
    const r = await scope('room', g.id);
    for (const who of [u, keep]) for (const s of [c, g, r]) await pool.query(`insert into memberships (scope_id, user_id) values ($1, $2)`, [s.id, who]);
    await pool.query(`delete from memberships where scope_id = $1 and user_id = $2`, [g.id, u]);
    const { rows } = await pool.query(`select scope_id, user_id from memberships where scope_id = any($1)`, [[c.id, g.id, r.id]]);
    expect(rows.filter((m) => m.user_id === u).map((m) => m.scope_id)).toEqual([c.id]);
    expect(rows.filter((m) => m.user_id === keep)).toHaveLength(3);
  });

  it('never leaves a community without an owner, even when two owners demote each other at once', async () => {
    const [a, b] = [await user('a'), await user('b')];
    const c = await scope('community', null);
    await pool.query(`insert into memberships (scope_id, user_id, is_owner) values ($1, $2, true), ($1, $3, true)`, [c.id, a, b]);
    const ca = await pool.connect();
    const cb = await pool.connect();
    try {
      await ca.query('begin');
      await cb.query('begin');
      await ca.query(`update memberships set is_owner = false where scope_id = $1 and user_id = $2`, [c.id, b]);
      const second = cb
        .query(`update memberships set is_owner = false where scope_id = $1 and user_id = $2`, [c.id, a])
        .then(() => null, (e: Error) => e);
      await ca.query('commit');
      const err = await second;
      await cb.query('rollback');
      expect(err?.message).toMatch(/must keep at least one owner/);
    } finally {
      ca.release();
      cb.release();
    }
    const { rows } = await pool.query(`select count(*)::int as n from memberships where scope_id = $1 and is_owner`, [c.id]);
    expect(rows[0].n).toBe(1);
    const last = await errorOf(pool.query(`delete from memberships where scope_id = $1 and is_owner`, [c.id]));
    expect(last?.message).toMatch(/must keep at least one owner/);
  });
  it('counts owners of an ancestor for a group (drizzle/0013): its only owner of its own may go, a community keeps one', async () => {
    const [owner, creator] = [await user('o'), await user('g')];
    const c = await scope('community', null);
    const g = await scope('group', c.id);
    await pool.query(`insert into memberships (scope_id, user_id, is_owner) values ($1, $2, true), ($1, $3, false)`, [c.id, owner, creator]);
    await pool.query(`insert into memberships (scope_id, user_id, is_owner) values ($1, $2, true)`, [g.id, creator]);
    // The creator leaves the community: the cascade takes the group's only own owner.
    await pool.query(`delete from memberships where scope_id = $1 and user_id = $2`, [c.id, creator]);
    const { rows } = await pool.query(`select count(*)::int as n from memberships where scope_id = $1`, [g.id]);
    expect(rows[0].n).toBe(0);
    expect((await errorOf(pool.query(`delete from memberships where scope_id = $1 and user_id = $2`, [c.id, owner])))?.message).toMatch(/must keep at least one owner/);
  });
});
