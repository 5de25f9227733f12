import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission } from '../../sdk/src/index.js';
import { errCode } from '../helpers/errors.js';
import { createClient } from '../helpers/server.js';
import { governanceEnv } from '../governance/fixture.js';

/**
 * A reader's history pages are answered under this instance's memory of their access
 * (the scope's permission probe and their permissions at its perm_version), confirmed
 * by the page statement itself. These tests change access on the other instance and
 * prove the very next page on this one is refused and shows nothing.
 */
let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e) => errCode(e) ?? String(e));

/** A room with three messages that `m` has paged through (so this instance remembers the answer); the owner acts on instance b. */
async function readRoom() {
  const owner = await env.user('owner');
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'H' });
  const r = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
  const m = await env.user('m');
  await m.http.members.join.mutate({ scopeId: c.id });
  await m.http.members.join.mutate({ scopeId: r.id });
  for (let i = 0; i < 3; i++) await owner.http.messages.send.mutate({ scopeId: r.id, body: `m${i}` });
  let first;
  for (let i = 0; i < 3; i++) {
    first = await m.http.messages.list.query({ scopeId: r.id, limit: 2 });
    expect(first.items.map((x) => x.body)).toEqual(['m2', 'm1']);
  }
  const ownerOnB = createClient({ url: env.b.url, token: owner.token });
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
