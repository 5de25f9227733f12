import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import * as schema from '../../src/db/schema/index.js';
import type { Db } from '../../src/db/client.js';
import { randomUUID } from 'node:crypto';
import { MessageService } from '../../src/messages/service.js';
import { insertMessage } from '../../src/messages/send-sql.js';
import type { MessageAccess } from '../../src/messages/access.js';
import type { RateLimit } from '../../src/infra/ratelimit.js';
import { createTestDatabase } from '../helpers/db.js';

/**
 * The hot statements (the history page, src/messages/list-sql.ts; the plain send,
 * src/messages/send-sql.ts) are named statements: PostgreSQL plans one once per
 * connection and reuses the plan, unless the plans made for the first calls' values look
 * much cheaper than the generic one; then it plans again on every call (the newest page
 * did: 3.5× its CPU). On a room of a few thousand messages, every kind of page and send
 * must run on the cached generic plan after the first five calls.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;
let roomId: string;
let communityId: string;
/** A room of its own for the sends (the history room's seqs were written around its counter). */
let sendRoomId: string;
let viewer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  // One connection: the prepared statement and its plan counters are that session's.
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
  const one = async (text: string, values: unknown[] = []) => (await pool.query(text, values)).rows[0]!;
  viewer = (await one(`insert into users (email, display_name, password_hash) values ('plan@example.com', 'p', 'x') returning id`)).id;
  communityId = (await one(`insert into scopes (kind, name) values ('community', 'c') returning id`)).id;
  roomId = (await one(`insert into scopes (kind, name, parent_id) values ('room', 'r', $1) returning id`, [communityId])).id;
  sendRoomId = (await one(`insert into scopes (kind, name, parent_id) values ('room', 's', $1) returning id`, [communityId])).id;
  await pool.query(`insert into messages (id, scope_id, seq, author_id, body) select gen_random_uuid(), $1, g, $2, 'm' || g from generate_series(1, 5000) g`, [roomId, viewer]);
  await pool.query('analyze messages');
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A service on a connection of its own (a new session: no statement prepared yet). */
function serviceOnNewSession(): { service: MessageService; session: pg.Pool } {
  const session = new pg.Pool({ connectionString: db.url, max: 1 });
  const unused = () => Promise.reject(new Error('not used by list'));
  const access = { require: unused, requireStamped: unused, allows: unused, rememberedStamp: unused } as unknown as MessageAccess;
  return { service: new MessageService(drizzle(session, { schema }) as unknown as Db, access, {} as RateLimit), session };
}

async function plans(session: pg.Pool, name = 'guildhall_messages_page'): Promise<{ generic: number; custom: number }> {
  const { rows } = await session.query(`select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where name = $1`, [name]);
  return rows[0] as { generic: number; custom: number };
}

describe('the page statement keeps its cached plan', () => {
  const cursors = {
    'the newest page': {},
    'a page before a seq': { beforeSeq: 2_500 },
    'a page after a seq': { afterSeq: 2_500 },
    'a page around a seq': { aroundSeq: 2_500 },
  };
  for (const [what, cursor] of Object.entries(cursors)) {
    it(`${what}: planned at most for the first five calls of the connection`, async () => {
      const { service, session } = serviceOnNewSession();
      try {
        for (let i = 0; i < 20; i++) expect((await service.list(roomId, cursor, 50, viewer)).items).toHaveLength(50);
        const p = await plans(session);
        expect(p.custom).toBeLessThanOrEqual(5);
        expect(p.generic).toBeGreaterThanOrEqual(15);
      } finally {
        await session.end();
      }
    });
  }
});

describe('the plain send statement keeps its cached plan', () => {
  for (const [what, nonce] of [['without a nonce', false], ['with a nonce', true]] as const) {
    it(`${what}: planned at most for the first five sends of the connection`, async () => {
      const session = new pg.Pool({ connectionString: db.url, max: 1 });
      try {
        const sdb = drizzle(session, { schema }) as unknown as Db;
        const version = Number((await session.query('select perm_version from scopes where id = $1', [communityId])).rows[0].perm_version);
        const mentions = { userIds: [], roleIds: [], everyone: false, readers: [] };
        for (let i = 0; i < 20; i++) {
          const res = await insertMessage(sdb, { scopeId: sendRoomId, authorId: viewer, id: randomUUID(), body: `s${i}`, nonce: nonce ? randomUUID() : null, mentions, stamp: { rootId: communityId, rootVersion: version } });
          expect(res.stale).toBe(false);
        }
        const p = await plans(session, 'guildhall_messages_send');
        expect(p.custom).toBeLessThanOrEqual(5);
        expect(p.generic).toBeGreaterThanOrEqual(15);
      } finally {
        await session.end();
      }
    });
  }
});
