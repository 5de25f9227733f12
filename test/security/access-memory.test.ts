import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../helpers/subscribe.js';
import { errCode } from '../helpers/errors.js';
import { Permission } from '../../sdk/src/index.js';
import { createClient } from '../helpers/server.js';
import { governanceEnv, wsOnlyClient } from '../governance/fixture.js';

/**
 * A busy sender's or reader's calls are answered from each instance's memory (its
 * session, its scope's permission probe, its permissions at that perm_version), confirmed
 * by the write or the page statement itself. These tests change access on the other
 * instance and prove the very next call on this one is refused (a page shows nothing),
 * and that a refusal is never remembered.
 */
let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e) => errCode(e) ?? String(e));

async function room() {
  const owner = await env.user('owner');
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'M' });
  const r = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
  const m = await env.user('m');
  await m.http.members.join.mutate({ scopeId: c.id });
  await m.http.members.join.mutate({ scopeId: r.id });
  // The owner acts on instance b; m sends on instance a (env.user's clients).
  const ownerOnB = createClient({ url: env.b.url, token: owner.token });
  return { owner, ownerOnB, c, r, m };
}

async function countOf(scopeId: string): Promise<number> {
  const { sql } = await import('drizzle-orm');
  const res = (await env.a.services.database.db.execute(sql`select count(*)::int as n from messages where scope_id = ${scopeId}`)) as unknown as { rows: { n: number }[] };
  return res.rows[0]!.n;
}

describe('sends answered from memory', () => {
  for (const how of ['kick', 'timeout', 'archive'] as const) {
    it(`after a ${how} on the other instance, the next send on this one is FORBIDDEN and writes nothing`, async () => {
      const { ownerOnB, c, r, m } = await room();
      for (let i = 0; i < 3; i++) await m.ws.messages.send.mutate({ scopeId: r.id, body: `warm ${i}` });
      if (how === 'kick') await ownerOnB.moderation.kick.mutate({ scopeId: c.id, userId: m.userId });
      else if (how === 'timeout') await ownerOnB.moderation.timeout.mutate({ scopeId: c.id, userId: m.userId, until: new Date(Date.now() + 60_000) });
      else await ownerOnB.scopes.archive.mutate({ scopeId: r.id });
      expect(await codeOf(m.ws.messages.send.mutate({ scopeId: r.id, body: 'after' }))).toBe('FORBIDDEN');
      expect(await codeOf(m.http.messages.send.mutate({ scopeId: r.id, body: 'after', nonce: 'n-after' }))).toBe('FORBIDDEN');
      expect(await countOf(r.id)).toBe(3);
    });
  }

  it('a refusal is not remembered: once a member on the other instance, the next send here goes through', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'J' });
    const m = await env.user('m');
    await owner.ws.messages.send.mutate({ scopeId: c.id, body: 'warm' });
    expect(await codeOf(m.ws.messages.send.mutate({ scopeId: c.id, body: 'before joining' }))).toBe('FORBIDDEN');
    await createClient({ url: env.b.url, token: m.token }).members.join.mutate({ scopeId: c.id });
    const sent = await m.ws.messages.send.mutate({ scopeId: c.id, body: 'after joining' });
    expect(sent.body).toBe('after joining');
  });

  it('a sign-out on the other instance refuses the next call here once the revocation has arrived', async () => {
    const { r, m } = await room();
    await m.ws.messages.send.mutate({ scopeId: r.id, body: 'warm' });
    // A subscription on a ends when a has the revocation (the same bus message drops a's copy of the session).
    const ws = wsOnlyClient(env.a.url, m.token);
    try {
      const sub = collect((h) => ws.client.me.onEvent.subscribe({}, h));
      await sub.started;
      await createClient({ url: env.b.url, token: m.token }).auth.signOut.mutate();
      expect(errCode(await sub.error)).toBe('UNAUTHORIZED');
      expect(await codeOf(m.ws.messages.send.mutate({ scopeId: r.id, body: 'after sign-out' }))).toBe('UNAUTHORIZED');
      expect(await codeOf(m.http.auth.me.query())).toBe('UNAUTHORIZED');
    } finally {
      ws.close();
    }
  });
});

/** A room with three messages that `m` has paged through (so this instance remembers the answer); the owner acts on instance b. */
async function readRoom() {
  const { owner, ownerOnB, c, r, m } = await room();
  for (let i = 0; i < 3; i++) await owner.http.messages.send.mutate({ scopeId: r.id, body: `m${i}` });
  let first;
  for (let i = 0; i < 3; i++) {
    first = await m.http.messages.list.query({ scopeId: r.id, limit: 2 });
    expect(first.items.map((x) => x.body)).toEqual(['m2', 'm1']);
  }
  return { owner, ownerOnB, c, r, m, newestSeq: first!.items[0]!.seq };
}

describe('history pages answered from memory', () => {
  it('after a kick on the other instance, the next page here is FORBIDDEN, by every cursor', async () => {
    const { ownerOnB, c, r, m } = await readRoom();
    await ownerOnB.moderation.kick.mutate({ scopeId: c.id, userId: m.userId });
    expect(await codeOf(m.http.messages.list.query({ scopeId: r.id, limit: 2 }))).toBe('FORBIDDEN');
    expect(await codeOf(m.ws.messages.list.query({ scopeId: r.id, limit: 2, afterSeq: 0 }))).toBe('FORBIDDEN');
    expect(await codeOf(m.ws.messages.list.query({ scopeId: r.id, limit: 2, aroundSeq: 1 }))).toBe('FORBIDDEN');
  });

  it('after ReadHistory is denied by an overwrite on the other instance, the next page here is FORBIDDEN; allowed again, it reads', async () => {
    const { ownerOnB, r, m } = await readRoom();
    await ownerOnB.permissions.setOverwrite.mutate({ scopeId: r.id, targetType: 'member', targetId: m.userId, deny: Permission.ReadHistory });
    expect(await codeOf(m.http.messages.list.query({ scopeId: r.id, limit: 2 }))).toBe('FORBIDDEN');
    await ownerOnB.permissions.clearOverwrite.mutate({ scopeId: r.id, targetType: 'member', targetId: m.userId });
    expect((await m.http.messages.list.query({ scopeId: r.id, limit: 2 })).items.map((x) => x.body)).toEqual(['m2', 'm1']);
  });

  it('after the room is deleted on the other instance, the next page here is NOT_FOUND', async () => {
    const { ownerOnB, r, m } = await readRoom();
    await ownerOnB.scopes.delete.mutate({ scopeId: r.id });
    expect(await codeOf(m.http.messages.list.query({ scopeId: r.id, limit: 2 }))).toBe('NOT_FOUND');
  });

  it('a change of access that keeps reading allowed (a role made) still gives the right page, and a past-the-end page is empty', async () => {
    const { ownerOnB, c, r, m, newestSeq } = await readRoom();
    await ownerOnB.roles.create.mutate({ scopeId: c.id, name: 'readers', permissions: Permission.View });
    const page = await m.http.messages.list.query({ scopeId: r.id, limit: 2, beforeSeq: newestSeq });
    expect(page.items.map((x) => x.body)).toEqual(['m1', 'm0']);
    expect(page.nextBeforeSeq).toBeNull();
    expect(await m.http.messages.list.query({ scopeId: r.id, limit: 2, afterSeq: newestSeq + 100 })).toEqual({ items: [], nextBeforeSeq: newestSeq + 101, nextAfterSeq: null });
  });
});
