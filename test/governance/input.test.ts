import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission } from '../../sdk/src/index.js';
import { governanceEnv } from './fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

/** The tRPC code and message a call failed with. */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { data?: { code?: string } }).data?.code ?? 'none', message: (err as Error).message };
  }
  throw new Error('expected the call to fail');
}

describe('bad input', () => {
  it('answers BAD_REQUEST with a readable message and changes nothing', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Guild' });
    const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
    const k = owner.http;
    const uuid = '00000000-0000-4000-8000-000000000000';
    const bad: [() => Promise<unknown>, RegExp][] = [
      [() => k.scopes.update.mutate({ scopeId: room.id, name: 'x'.repeat(101) }), /name: name must be at most 100/],
      [() => k.scopes.update.mutate({ scopeId: room.id, description: 'x'.repeat(1001) }), /description must be at most 1000/],
      [() => k.scopes.update.mutate({ scopeId: room.id, visibility: 'hidden' as 'secret' }), /visibility/],
      [() => k.scopes.update.mutate({ scopeId: room.id, settings: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }), /at most 50 keys/],
      [() => k.scopes.move.mutate({ scopeId: 'nope', parentId: c.id }), /scopeId must be a scope id/],
      [() => k.scopes.tree.query({ rootId: '' }), /rootId: rootId must be a scope id/],
      [() => k.scopes.move.mutate({ scopeId: room.id, parentId: 'nope' }), /parentId: parentId must be a scope id/],
      [() => k.scopes.create.mutate({ kind: 'room', parentId: 'nope', name: 'r' }), /parentId: parentId must be a scope id/],
      [() => k.members.list.query({ scopeId: c.id, limit: 101 }), /limit/],
      [() => k.members.add.mutate({ scopeId: c.id, userId: 'me' }), /userId must be a user id/],
      [() => k.roles.create.mutate({ scopeId: c.id, name: ' ' }), /name must not be empty/],
      [() => k.roles.create.mutate({ scopeId: c.id, name: 'r', permissions: -1n }), /must not be negative/],
      [() => k.roles.create.mutate({ scopeId: c.id, name: 'r', permissions: 1n << 40n }), /unknown flag bit/],
      [() => k.roles.create.mutate({ scopeId: c.id, name: 'r', position: 1_000_000 }), /position/],
      [() => k.roles.update.mutate({ roleId: 'x' }), /roleId must be a role id/],
      [() => k.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'member', targetId: uuid, allow: Permission.View, deny: Permission.View }), /both allowed and denied/],
      [() => k.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'group' as 'role', targetId: uuid }), /targetType/],
      [() => k.permissions.explain.query({ scopeId: room.id, flag: 'Fly' as 'View' }), /flag/],
      [() => k.invites.create.mutate({ scopeId: c.id, maxUses: 0 }), /maxUses/],
      [() => k.invites.create.mutate({ scopeId: c.id, maxUses: 10_001 }), /maxUses/],
      [() => k.invites.create.mutate({ scopeId: c.id, expiresAt: new Date(Date.now() + 91 * 86_400_000) }), /at most 90 days/],
      [() => k.invites.redeem.mutate({ code: 'has spaces' }), /code holds only/],
      [() => k.moderation.ban.mutate({ scopeId: c.id, userId: uuid, purgeSeconds: 8 * 86_400 }), /purgeSeconds/],
      [() => k.moderation.ban.mutate({ scopeId: c.id, userId: uuid, reason: 'x'.repeat(501) }), /reason must be at most 500/],
      [() => k.moderation.timeout.mutate({ scopeId: c.id, userId: uuid, until: new Date(Date.now() + 29 * 86_400_000) }), /at most 28 days/],
      [() => k.audit.list.query({ scopeId: c.id, cursor: 0 }), /cursor/],
      [() => k.dms.open.mutate({ userIds: [] }), /at least one other user/],
      [() => k.dms.open.mutate({ userIds: ['me'] }), /userIds\.0: each of userIds must be a user id/],
      [() => k.readState.get.query({ scopeIds: [room.id, 'x'] }), /scopeIds\.1: each of scopeIds must be a scope id/],
      [() => k.members.list.query({ scopeId: c.id, cursor: 'x' }), /cursor: cursor \(the nextCursor of the previous page\) must be a user id/],
      [() => k.dms.open.mutate({ userIds: Array.from({ length: 10 }, () => uuid) }), /at most 9 other users/],
    ];
    for (const [call, message] of bad) {
      const f = await failure(call());
      expect(f.code, message.source).toBe('BAD_REQUEST');
      expect(f.message).toMatch(message);
    }
    // Nothing changed.
    expect(await k.scopes.get.query({ scopeId: room.id })).toMatchObject({ name: 'general', description: '', settings: {} });
    expect((await k.roles.list.query({ scopeId: c.id })).map((r) => r.kind).sort()).toEqual(['admin', 'everyone']);
    expect(await k.invites.list.query({ scopeId: c.id })).toEqual([]);
    expect(await k.moderation.listBans.query({ scopeId: c.id })).toEqual([]);
  });
});
