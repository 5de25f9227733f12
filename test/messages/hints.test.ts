import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openDatabase } from '../../src/db/client.js';
import { listWindows } from '../../src/messages/list-sql.js';
import { useServers, type User } from './setup.js';

/**
 * The hint columns of `messages` (has_mentions, has_reactions, has_attachments,
 * drizzle/0050): the history page (src/messages/list-sql.ts) looks up a message's
 * mentions, reactions and attachments only where its hint is true, so a hint that is
 * false over existing rows would hide them. These tests add and remove child rows by
 * every path (the API, raw SQL as another writer would) and compare each listed message
 * with `messages.get`, which reads the child tables without hints.
 */

const { ctx, user, room } = useServers();

/** No message of the database has a child row its hint does not announce. */
async function staleFalse(): Promise<number> {
  const { rows } = await ctx.pool.query(
    `select count(*)::int as n from messages m
      where (not m.has_mentions and exists (select 1 from message_mentions x where x.message_id = m.id))
         or (not m.has_reactions and exists (select 1 from reactions x where x.message_id = m.id))
         or (not m.has_attachments and exists (select 1 from attachments x where x.message_id = m.id))`,
  );
  return rows[0].n;
}

/** Every message of the page equals what `messages.get` (no hints) returns for it. */
async function pageMatchesGet(u: User, scopeId: string) {
  const page = await u.client.messages.list.query({ scopeId });
  for (const m of page.items) expect(m, `message ${m.seq}`).toEqual(await u.client.messages.get.query({ scopeId, messageId: m.id }));
  return page.items;
}

async function hints(messageId: string) {
  const { rows } = await ctx.pool.query('select has_mentions, has_reactions, has_attachments from messages where id = $1', [messageId]);
  return rows[0];
}

async function rawAttachment(owner: string, scopeId: string, messageId: string | null, name: string): Promise<string> {
  const { rows } = await ctx.pool.query(
    `insert into attachments (owner_id, scope_id, message_id, key, filename, declared_type, declared_size)
     values ($1, $2, $3, 'uploads/' || gen_random_uuid(), $4, 'application/pdf', 10) returning id`,
    [owner, scopeId, messageId, name],
  );
  return rows[0].id;
}

describe('history page hints (PostgreSQL)', () => {
  it('a message without child rows has no hints; reactions added later, removed and added again are listed', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const plain = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'nothing on me' });
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'react to me later' });
    expect(await hints(plain.id)).toEqual({ has_mentions: false, has_reactions: false, has_attachments: false });
    expect(await hints(m.id)).toEqual({ has_mentions: false, has_reactions: false, has_attachments: false });

    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    expect((await hints(m.id)).has_reactions).toBe(true);
    let items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === m.id)!.reactions).toEqual([
      { emoji: '🎉', count: 1, me: false, userIds: [bob.userId] },
      { emoji: '👍', count: 2, me: true, userIds: [alice.userId, bob.userId] },
    ]);
    expect(items.find((x) => x.id === plain.id)!.reactions).toEqual([]);

    // All removed: the hint stays (stale true is one probe that finds nothing), the page is empty of them.
    await bob.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await alice.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    await bob.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === m.id)!.reactions).toEqual([]);
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👀' });
    items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === m.id)!.reactions).toEqual([{ emoji: '👀', count: 1, me: true, userIds: [alice.userId] }]);
    expect(await staleFalse()).toBe(0);
  });

  it('mentions written by the send, removed and added back by edits are listed', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const { room: r } = await room(alice, [bob, carol]);
    const sent = await alice.client.messages.send.mutate({ scopeId: r.id, body: `hi <@${carol.userId}> <@${bob.userId}>` });
    const later = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'no one yet' });
    expect((await hints(sent.id)).has_mentions).toBe(true);
    expect((await hints(later.id)).has_mentions).toBe(false);
    let items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === sent.id)!.mentions.userIds).toEqual([bob.userId, carol.userId].sort());

    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: later.id, body: `now <@${bob.userId}>` });
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: sent.id, body: 'nobody after all' });
    items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === later.id)!.mentions.userIds).toEqual([bob.userId]);
    expect(items.find((x) => x.id === sent.id)!.mentions.userIds).toEqual([]);
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: sent.id, body: `back to <@${carol.userId}>` });
    items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === sent.id)!.mentions.userIds).toEqual([carol.userId]);
    expect(await staleFalse()).toBe(0);
  });

  it('attachments inserted for a message or attached to it after it was sent are listed, oldest first; one marked for deletion is not', async () => {
    const alice = await user('alice');
    const { room: r } = await room(alice);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'files follow' });
    const first = await rawAttachment(alice.userId, r.id, m.id, 'first.pdf');
    const uploaded = await rawAttachment(alice.userId, r.id, null, 'second.pdf');
    expect((await hints(m.id)).has_attachments).toBe(true);
    await ctx.pool.query(`update attachments set created_at = created_at + interval '1 second', message_id = $2 where id = $1`, [uploaded, m.id]);
    let items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === m.id)!.attachments.map((a) => a.filename)).toEqual(['first.pdf', 'second.pdf']);

    // An attachment uploaded apart and attached to a message without any.
    const bare = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'bare' });
    const late = await rawAttachment(alice.userId, r.id, null, 'late.pdf');
    expect((await hints(bare.id)).has_attachments).toBe(false);
    await ctx.pool.query('update attachments set message_id = $2 where id = $1', [late, bare.id]);
    await ctx.pool.query('update attachments set delete_requested_at = now() where id = $1', [first]);
    items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === bare.id)!.attachments.map((a) => a.id)).toEqual([late]);
    expect(items.find((x) => x.id === m.id)!.attachments.map((a) => a.id)).toEqual([uploaded]);
    expect(await staleFalse()).toBe(0);
  });

  it('a hint update fires no trigger of messages: no event, no counter, no edit mark, same search vector', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const root = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'thread root words' });
    const reply = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'a reply', threadRootId: root.id });
    const state = async () =>
      (
        await ctx.pool.query(
          `select s.last_seq, s.message_count, s.message_total, (select count(*)::int from scope_events e where e.scope_id = s.id) as events,
                  (select json_agg(json_build_object('id', m.id, 'edited', m.edited_at, 'search', m.search::text, 'replies', m.thread_reply_count) order by m.seq)
                     from messages m where m.scope_id = s.id) as messages
             from scopes s where s.id = $1`,
          [r.id],
        )
      ).rows[0];
    const before = await state();
    // Child rows written by raw SQL, as any other writer would: the triggers set the hints.
    await ctx.pool.query(`insert into reactions (message_id, emoji, user_id) values ($1, '🧵', $2), ($3, '🧵', $2)`, [root.id, bob.userId, reply.id]);
    await ctx.pool.query(`insert into message_mentions (message_id, scope_id, kind, target_id) values ($1, $2, 'role', $3)`, [root.id, r.id, randomUUID()]);
    await rawAttachment(bob.userId, r.id, reply.id, 'in-thread.pdf');
    expect(await hints(root.id)).toEqual({ has_mentions: true, has_reactions: true, has_attachments: false });
    expect(await hints(reply.id)).toEqual({ has_mentions: false, has_reactions: true, has_attachments: true });
    expect(await state()).toEqual(before);
    const items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === root.id)!.reactions).toEqual([{ emoji: '🧵', count: 1, me: false, userIds: [bob.userId] }]);
    expect(items.find((x) => x.id === root.id)!.mentions.roleIds).toHaveLength(1);
    expect((await alice.client.messages.thread.query({ scopeId: r.id, rootId: root.id })).items[0]!.attachments.map((a) => a.filename)).toEqual(['in-thread.pdf']);
    expect(await staleFalse()).toBe(0);
  });

  it("the migration's backfill sets the hints of rows written before it (hints cleared by hand here) and only those", async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: `old <@${bob.userId}>` });
    const plain = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'plain' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    await rawAttachment(alice.userId, r.id, m.id, 'old.pdf');
    await ctx.pool.query('update messages set has_mentions = false, has_reactions = false, has_attachments = false where scope_id = $1', [r.id]);
    expect(await staleFalse()).toBeGreaterThan(0);
    const migration = readFileSync(new URL('../../drizzle/0050_message_hints.sql', import.meta.url), 'utf8');
    const backfill = migration.split('--> statement-breakpoint').map((s) => s.replace(/^\s*(--.*\n)*/g, '').trim()).filter((s) => s.startsWith('UPDATE messages'));
    expect(backfill).toHaveLength(3);
    for (const statement of backfill) await ctx.pool.query(statement);
    expect(await staleFalse()).toBe(0);
    expect(await hints(m.id)).toEqual({ has_mentions: true, has_reactions: true, has_attachments: true });
    expect(await hints(plain.id)).toEqual({ has_mentions: false, has_reactions: false, has_attachments: false });
    const items = await pageMatchesGet(alice, r.id);
    expect(items.find((x) => x.id === m.id)!).toMatchObject({ reactions: [{ emoji: '👍', count: 1 }], mentions: { userIds: [bob.userId] } });
  });
});

describe('history page hints (PGlite)', () => {
  it('the migration and its triggers run on PGlite; the page lists what the hints announce', async () => {
    const database = await openDatabase({ dataDir: 'memory://' });
    try {
      await database.migrate();
      const client = (database.db as unknown as { $client: { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> } }).$client;
      const one = async (text: string, values: unknown[] = []) => (await client.query(text, values)).rows[0]!;
      const u = (await one(`insert into users (email, display_name, password_hash) values ('p@example.com', 'p', 'x') returning id`)).id as string;
      const c = (await one(`insert into scopes (kind, name) values ('community', 'c') returning id`)).id as string;
      const r = (await one(`insert into scopes (kind, name, parent_id) values ('room', 'r', $1) returning id`, [c])).id as string;
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const [i, id] of ids.entries()) {
        await client.query(`insert into messages (id, scope_id, seq, author_id, body) values ($1, $2, $3, $4, $5)`, [id, r, i + 1, u, `m${i}`]);
      }
      await client.query(`insert into reactions (message_id, emoji, user_id) values ($1, '👍', $2)`, [ids[0], u]);
      await client.query(`insert into message_mentions (message_id, scope_id, kind, target_id) values ($1, $2, 'user', $3)`, [ids[1], r, u]);
      const att = (await one(`insert into attachments (owner_id, scope_id, key, filename, declared_type, declared_size) values ($1, $2, 'k', 'f.pdf', 'application/pdf', 1) returning id`, [u, r])).id as string;
      await client.query('update attachments set message_id = $2 where id = $1', [att, ids[2]]);
      const { rows } = await client.query('select has_mentions, has_reactions, has_attachments from messages order by seq');
      expect(rows).toEqual([
        { has_mentions: false, has_reactions: true, has_attachments: false },
        { has_mentions: true, has_reactions: false, has_attachments: false },
        { has_mentions: false, has_reactions: false, has_attachments: true },
      ]);
      const { d } = await listWindows(database.db, r, u, { bound: 10, take: 4, keep: 3 }, { bound: 0, take: 0, keep: 0 });
      expect(d.items.map((m) => [m.body, m.reactions.length, m.mentions.userIds, m.attachments.map((a) => a.id)])).toEqual([
        ['m2', 0, [], [att]],
        ['m1', 0, [u], []],
        ['m0', 1, [], []],
      ]);
    } finally {
      await database.close();
    }
  });
});
