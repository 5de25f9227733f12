import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission, type ScopeStreamEvent } from '../../sdk/src/index.js';
import { codeOf, errCode } from '../helpers/errors.js';
import { collect } from '../helpers/subscribe.js';
import { governanceEnv, type TestUser } from './fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

async function community() {
  const owner = await env.user('owner');
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Guild' });
  const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
  return { owner, c, room };
}

describe('membership', () => {
  it('joins public scopes under a parent one belongs to, lists in cursor pages, and cascades on leave', async () => {
    const { owner, c, room } = await community();
    const u = await env.user('u');
    expect(await codeOf(u.http.members.join.mutate({ scopeId: room.id }))).toBe('FORBIDDEN'); // parent first
    await u.http.members.join.mutate({ scopeId: c.id });
    await u.http.members.join.mutate({ scopeId: room.id });
    const others: TestUser[] = [];
    for (let i = 0; i < 3; i++) {
      const o = await env.user(`m${i}`);
      await o.http.members.join.mutate({ scopeId: c.id });
      others.push(o);
    }
    const p1 = await u.http.members.list.query({ scopeId: c.id, limit: 2 });
    const p2 = await u.http.members.list.query({ scopeId: c.id, limit: 2, cursor: p1.nextCursor! });
    const p3 = await u.http.members.list.query({ scopeId: c.id, limit: 2, cursor: p2.nextCursor! });
    const all = [...p1.items, ...p2.items, ...p3.items].map((m) => m.userId);
    expect(new Set(all)).toEqual(new Set([owner.userId, u.userId, ...others.map((o) => o.userId)]));
    expect(p3.nextCursor).toBeNull();
    // Leaving the community leaves the room too (trigger cascade).
    expect(await u.http.members.leave.mutate({ scopeId: c.id })).toEqual({ left: 2 });
    expect(await codeOf(u.http.messages.list.query({ scopeId: room.id }))).toBe('FORBIDDEN');
    // The last owner cannot leave.
    expect(await codeOf(owner.http.members.leave.mutate({ scopeId: c.id }))).toBe('CONFLICT');
  });

  it('adds members to a private room with ManageMembers only', async () => {
    const { owner, c } = await community();
    const priv = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'staff', visibility: 'private' });
    const u = await env.user('u');
    const v = await env.user('v');
    await u.http.members.join.mutate({ scopeId: c.id });
    await v.http.members.join.mutate({ scopeId: c.id });
    expect(await codeOf(u.http.members.add.mutate({ scopeId: priv.id, userId: v.userId }))).toBe('NOT_FOUND');
    await owner.http.members.add.mutate({ scopeId: priv.id, userId: u.userId });
    expect((await u.http.scopes.get.query({ scopeId: priv.id })).id).toBe(priv.id);
    expect(await codeOf(u.http.members.add.mutate({ scopeId: priv.id, userId: v.userId }))).toBe('FORBIDDEN');
    await owner.http.members.remove.mutate({ scopeId: priv.id, userId: u.userId });
    expect(await codeOf(u.http.scopes.get.query({ scopeId: priv.id }))).toBe('NOT_FOUND');
  });
});

describe('owners', () => {
  it('adds, removes and transfers owners, never leaving none', async () => {
    const { owner, c } = await community();
    const u = await env.user('u');
    await u.http.members.join.mutate({ scopeId: c.id });
    expect(await codeOf(owner.http.owners.remove.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('CONFLICT');
    await owner.http.owners.transfer.mutate({ scopeId: c.id, userId: u.userId });
    const owners = (await u.http.members.list.query({ scopeId: c.id })).items.filter((m) => m.isOwner).map((m) => m.userId);
    expect(owners).toEqual([u.userId]);
    expect(await codeOf(owner.http.owners.add.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('FORBIDDEN');
    await u.http.owners.add.mutate({ scopeId: c.id, userId: owner.userId });
    // Two owners demoting each other at the same moment: one wins, one owner stays.
    const results = await Promise.all([
      codeOf(u.http.owners.remove.mutate({ scopeId: c.id, userId: owner.userId })),
      codeOf(owner.http.owners.remove.mutate({ scopeId: c.id, userId: u.userId })),
    ]);
    const res = (await env.a.services.database.db.execute(sql`select count(*)::int as n from memberships where scope_id = ${c.id} and is_owner`)) as unknown as { rows: { n: number }[] };
    expect(res.rows[0]!.n).toBe(1);
    expect(results.filter((r) => r === undefined).length).toBe(1);
  });
});

describe('invites', () => {
  it('20 parallel redemptions of a one-use invite make exactly one member', async () => {
    const { owner, c } = await community();
    const priv = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'vip', visibility: 'private' });
    const inv = await owner.http.invites.create.mutate({ scopeId: priv.id, maxUses: 1 });
    expect(inv.code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => env.user(`r${i}`)));
    const codes = await Promise.all(users.map((u) => codeOf(u.http.invites.redeem.mutate({ code: inv.code }))));
    expect(codes.filter((x) => x === undefined)).toHaveLength(1);
    expect(codes.filter((x) => x === 'BAD_REQUEST')).toHaveLength(19);
    const members = (await owner.http.members.list.query({ scopeId: priv.id })).items.map((m) => m.userId);
    expect(members).toHaveLength(2); // the owner and the one winner
    // The winner also joined the community above (the invite vouches for the path).
    const winner = users[codes.indexOf(undefined)]!;
    expect((await winner.http.permissions.effective.query({ scopeId: c.id })).isMember).toBe(true);
  });

  it("one user's 20 parallel redemptions of a 5-use invite take one use and make one membership", async () => {
    const { owner, c } = await community();
    const inv = await owner.http.invites.create.mutate({ scopeId: c.id, maxUses: 5 });
    const u = await env.user('eager');
    const onB = env.b.services;
    // Half through each instance, all at once.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? onB.invites.redeem(u.userId, inv.code) : u.http.invites.redeem.mutate({ code: inv.code }))),
    );
    expect(results.filter((r) => r.joined)).toHaveLength(1);
    const [listed] = (await owner.http.invites.list.query({ scopeId: c.id })).filter((i) => i.id === inv.id);
    expect(listed!.uses).toBe(1);
    const members = (await owner.http.members.list.query({ scopeId: c.id })).items.map((m) => m.userId);
    expect(members.filter((id) => id === u.userId)).toHaveLength(1);
    // The other four uses are still there for others.
    for (let i = 0; i < 4; i++) expect((await (await env.user(`later${i}`)).http.invites.redeem.mutate({ code: inv.code })).joined).toBe(true);
  });

  it('refuses revoked, expired and exhausted codes and banned users with clear errors', async () => {
    const { owner, c } = await community();
    const u = await env.user('u');
    const revoked = await owner.http.invites.create.mutate({ scopeId: c.id });
    await owner.http.invites.revoke.mutate({ inviteId: revoked.id });
    await expect(u.http.invites.redeem.mutate({ code: revoked.code })).rejects.toThrow(/revoked/);
    const once = await owner.http.invites.create.mutate({ scopeId: c.id, maxUses: 1 });
    await (await env.user('first')).http.invites.redeem.mutate({ code: once.code });
    await expect(u.http.invites.redeem.mutate({ code: once.code })).rejects.toThrow(/no uses left/);
    const soon = await owner.http.invites.create.mutate({ scopeId: c.id, expiresAt: new Date(Date.now() + 60_000) });
    await env.a.services.database.db.execute(sql`update invites set expires_at = now() - interval '1 second' where id = ${soon.id}`);
    await expect(u.http.invites.redeem.mutate({ code: soon.code })).rejects.toThrow(/expired/);
    expect(await codeOf(u.http.invites.redeem.mutate({ code: 'nope' }))).toBe('NOT_FOUND');
    const open = await owner.http.invites.create.mutate({ scopeId: c.id });
    await owner.http.moderation.ban.mutate({ scopeId: c.id, userId: u.userId });
    const err = await u.http.invites.redeem.mutate({ code: open.code }).catch((e: unknown) => e);
    expect(errCode(err)).toBe('FORBIDDEN');
    expect((err as Error).message).toMatch(/banned/);
    expect(await codeOf(owner.http.invites.create.mutate({ scopeId: c.id, expiresAt: new Date(Date.now() - 1000) }))).toBe('BAD_REQUEST');
  });
});

describe('direct conversations', () => {
  it('returns the one DM of a pair, and a new group DM of up to 10', async () => {
    const a = await env.user('a');
    const b = await env.user('b');
    // A DM needs a shared community (issue 10): they all share one.
    const shared = await a.http.scopes.create.mutate({ kind: 'community', name: 'shared' });
    await b.http.members.join.mutate({ scopeId: shared.id });
    const d1 = await a.http.dms.open.mutate({ userIds: [b.userId] });
    const d2 = await b.http.dms.open.mutate({ userIds: [a.userId] });
    expect(d2.scope.id).toBe(d1.scope.id);
    expect(d1.scope).toMatchObject({ kind: 'dm', visibility: 'secret' });
    const msg = await b.http.messages.send.mutate({ scopeId: d1.scope.id, body: 'hi a' });
    expect((await a.http.messages.list.query({ scopeId: d1.scope.id })).items[0]!.id).toBe(msg.id);
    const outsider = await env.user('c');
    expect(await codeOf(outsider.http.messages.list.query({ scopeId: d1.scope.id }))).toBe('NOT_FOUND');
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => env.user(`g${i}`)));
    for (const m of many) await m.http.members.join.mutate({ scopeId: shared.id });
    const g = await a.http.dms.open.mutate({ userIds: [b.userId, ...many.map((m) => m.userId)] });
    expect(g.memberIds).toHaveLength(10);
    expect(await codeOf(a.http.dms.open.mutate({ userIds: [b.userId, outsider.userId, ...many.map((m) => m.userId)] }))).toBe('BAD_REQUEST');
    expect(await codeOf(a.http.dms.open.mutate({ userIds: [a.userId] }))).toBe('BAD_REQUEST');
    expect((await a.http.dms.list.query()).map((d) => d.scope.id)).toContain(d1.scope.id);
  });
});

describe('tree, update, move, archive, delete', () => {
  it('moves a subtree with its paths, archives read-only, deletes softly with the subtree', async () => {
    const { owner, c, room } = await community();
    const g1 = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'g1' });
    const g2 = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'g2' });
    const r1 = await owner.http.scopes.create.mutate({ kind: 'room', parentId: g1.id, name: 'r1' });
    await owner.http.scopes.move.mutate({ scopeId: g1.id, parentId: g2.id });
    expect((await owner.http.scopes.get.query({ scopeId: r1.id })).path).toEqual([c.id, g2.id, g1.id]);
    const other = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Other' });
    expect(await codeOf(owner.http.scopes.move.mutate({ scopeId: g1.id, parentId: other.id }))).toBe('BAD_REQUEST');

    const updated = await owner.http.scopes.update.mutate({ scopeId: room.id, name: 'lobby', description: 'say hi', settings: { slowModeSeconds: 5 } });
    expect(updated).toMatchObject({ name: 'lobby', description: 'say hi', settings: { slowModeSeconds: 5 } });

    await owner.http.scopes.archive.mutate({ scopeId: g2.id });
    expect(await codeOf(owner.http.messages.send.mutate({ scopeId: r1.id, body: 'x' }))).toBe('FORBIDDEN');
    // The refusal says why: the room is under an archived group, not a missing permission.
    await expect(owner.http.messages.send.mutate({ scopeId: r1.id, body: 'x' })).rejects.toThrow('this room is archived (or under an archived scope): it is read-only until it is unarchived');
    await owner.http.scopes.archive.mutate({ scopeId: g2.id, archived: false });
    await owner.http.messages.send.mutate({ scopeId: r1.id, body: 'x' });

    expect(await owner.http.scopes.delete.mutate({ scopeId: g2.id })).toEqual({ deleted: 3 });
    expect(await codeOf(owner.http.scopes.get.query({ scopeId: r1.id }))).toBe('NOT_FOUND');
    expect((await owner.http.scopes.tree.query({ rootId: c.id })).map((n) => n.name)).toEqual(['Guild', 'lobby']);
  });

  it('a non-owner admin may not delete a group; a member may not update a room', async () => {
    const { owner, c, room } = await community();
    const g = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'g' });
    const m = await env.user('m');
    await m.http.members.join.mutate({ scopeId: c.id });
    const admin = (await owner.http.roles.list.query({ scopeId: c.id })).find((r) => r.kind === 'admin')!;
    await owner.http.roles.assign.mutate({ roleId: admin.id, userId: m.userId });
    expect(await codeOf(m.http.scopes.delete.mutate({ scopeId: g.id }))).toBe('FORBIDDEN');
    const plain = await env.user('p');
    await plain.http.members.join.mutate({ scopeId: c.id });
    expect(await codeOf(plain.http.scopes.update.mutate({ scopeId: room.id, name: 'mine' }))).toBe('FORBIDDEN');
    expect(Permission.ManageScope).toBeTypeOf('bigint');
  });
});

describe('subscriptions end when access ends', () => {
  it('a kicked member and a banned member lose their subscriptions with FORBIDDEN, across instances', async () => {
    const { owner, c, room } = await community();
    const k = await env.user('kicked', env.b);
    const bn = await env.user('banned', env.b);
    for (const u of [k, bn]) {
      await u.http.members.join.mutate({ scopeId: c.id });
      await u.http.members.join.mutate({ scopeId: room.id });
    }
    // Subscriptions live on instance B; the moderation goes through instance A.
    const subK = collect<ScopeStreamEvent>((h) => k.http.messages.onEvent.subscribe({ scopeId: room.id }, h));
    const subB = collect<ScopeStreamEvent>((h) => bn.http.messages.onEvent.subscribe({ scopeId: room.id }, h));
    await Promise.all([subK.started, subB.started]);
    await owner.http.messages.send.mutate({ scopeId: room.id, body: 'before' });
    await Promise.all([subK.until(1), subB.until(1)]);
    const t0 = Date.now();
    await owner.http.moderation.kick.mutate({ scopeId: c.id, userId: k.userId });
    await owner.http.moderation.ban.mutate({ scopeId: c.id, userId: bn.userId, reason: 'spam', purgeSeconds: 3600 });
    expect(errCode(await subK.error)).toBe('FORBIDDEN');
    expect(errCode(await subB.error)).toBe('FORBIDDEN');
    expect(Date.now() - t0).toBeLessThan(1_000);
    // The banned user cannot come back; the kicked one can.
    expect(await codeOf(bn.http.members.join.mutate({ scopeId: c.id }))).toBe('NOT_FOUND');
    await k.http.members.join.mutate({ scopeId: c.id });
    await owner.http.moderation.unban.mutate({ scopeId: c.id, userId: bn.userId });
    await bn.http.members.join.mutate({ scopeId: c.id });
  });

  it('a timed-out member keeps view and read only, until the timeout is lifted', async () => {
    const { owner, c, room } = await community();
    const u = await env.user('u');
    await u.http.members.join.mutate({ scopeId: c.id });
    await u.http.members.join.mutate({ scopeId: room.id });
    await owner.http.moderation.timeout.mutate({ scopeId: c.id, userId: u.userId, until: new Date(Date.now() + 3_600_000) });
    expect(await codeOf(u.http.messages.send.mutate({ scopeId: room.id, body: 'x' }))).toBe('FORBIDDEN');
    await u.http.messages.list.query({ scopeId: room.id });
    expect((await u.http.permissions.explain.query({ scopeId: room.id, flag: 'SendMessages' })).decidedBy).toEqual({ kind: 'timeout' });
    await owner.http.moderation.timeout.mutate({ scopeId: c.id, userId: u.userId, until: null });
    await u.http.messages.send.mutate({ scopeId: room.id, body: 'back' });
  });
});

describe('audit log', () => {
  it('records membership, role, overwrite, owner, invite, moderation and scope changes with actor, before and after', async () => {
    const { owner, c, room } = await community();
    const u = await env.user('u');
    await u.http.members.join.mutate({ scopeId: c.id });
    const role = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'r', permissions: Permission.PinMessages });
    await owner.http.roles.assign.mutate({ roleId: role.id, userId: u.userId });
    await owner.http.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'member', targetId: u.userId, deny: Permission.SendMessages });
    await owner.http.owners.add.mutate({ scopeId: c.id, userId: u.userId });
    await owner.http.owners.remove.mutate({ scopeId: c.id, userId: u.userId });
    await owner.http.invites.create.mutate({ scopeId: c.id });
    await owner.http.scopes.update.mutate({ scopeId: room.id, name: 'renamed' });
    await owner.http.moderation.kick.mutate({ scopeId: c.id, userId: u.userId });
    const { items } = await owner.http.audit.list.query({ scopeId: c.id, limit: 100 });
    const actions = items.map((i) => i.action);
    for (const a of ['member.add', 'role.create', 'role.assign', 'overwrite.set', 'owner.add', 'owner.remove', 'invite.create', 'scope.update', 'member.remove', 'scope.create']) {
      expect(actions).toContain(a);
    }
    const kick = items.find((i) => i.action === 'member.remove' && i.targetId === u.userId)!;
    expect(kick).toMatchObject({ actorId: owner.userId, context: 'moderation.kick', after: null });
    const rename = items.find((i) => i.action === 'scope.update')!;
    expect(rename).toMatchObject({ scopeId: room.id, before: { name: 'general' }, after: { name: 'renamed' } });
    const join = items.find((i) => i.action === 'member.add' && i.targetId === u.userId)!;
    expect(join.actorId).toBe(u.userId);
    // Cursor pages walk back in time without overlap.
    const p1 = await owner.http.audit.list.query({ scopeId: c.id, limit: 3 });
    const p2 = await owner.http.audit.list.query({ scopeId: c.id, limit: 3, cursor: p1.nextCursor! });
    expect(p2.items[0]!.id).toBeLessThan(p1.items[2]!.id);
    // Members without ViewAuditLog cannot read it.
    const m = await env.user('m');
    await m.http.members.join.mutate({ scopeId: c.id });
    expect(await codeOf(m.http.audit.list.query({ scopeId: c.id }))).toBe('FORBIDDEN');
  });
});
