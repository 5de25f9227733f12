import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_PERMISSIONS, Permission, has } from '../../sdk/src/index.js';
import { codeOf } from '../helpers/errors.js';
import { createClient } from '../helpers/server.js';
import { governanceEnv } from './fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

async function community(visibility: 'public' | 'private' | 'secret' = 'public') {
  const owner = await env.user('owner');
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Guild', visibility });
  const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
  const roles = await owner.http.roles.list.query({ scopeId: c.id });
  const everyone = roles.find((r) => r.kind === 'everyone')!;
  const admin = roles.find((r) => r.kind === 'admin')!;
  return { owner, c, room, everyone, admin };
}

async function member(scopeIds: string[], name = 'member') {
  const u = await env.user(name);
  for (const id of scopeIds) await u.http.members.join.mutate({ scopeId: id });
  return u;
}

describe('the permission helper', () => {
  it('answers NOT_FOUND for hidden scopes and FORBIDDEN for visible ones the caller lacks a flag in', async () => {
    const { owner, c, room } = await community();
    const secret = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'mods', visibility: 'secret' });
    const priv = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'staff', visibility: 'private' });
    const m = await member([c.id, room.id]);
    const outsider = await env.user('outsider');
    // A member of a public room cannot see or probe a secret or private sibling.
    for (const s of [secret, priv]) {
      expect(await codeOf(m.http.scopes.get.query({ scopeId: s.id }))).toBe('NOT_FOUND');
      expect(await codeOf(m.http.messages.send.mutate({ scopeId: s.id, body: 'hi' }))).toBe('NOT_FOUND');
      expect(await codeOf(m.http.messages.list.query({ scopeId: s.id }))).toBe('NOT_FOUND');
      expect(await codeOf(m.http.members.join.mutate({ scopeId: s.id }))).toBe('NOT_FOUND');
    }
    // The same answer as a scope that does not exist.
    expect(await codeOf(m.http.scopes.get.query({ scopeId: '00000000-0000-4000-8000-000000000000' }))).toBe('NOT_FOUND');
    // A public room: an outsider sees it exists but may not read or write.
    expect((await outsider.http.scopes.get.query({ scopeId: room.id })).id).toBe(room.id);
    expect(await codeOf(outsider.http.messages.send.mutate({ scopeId: room.id, body: 'hi' }))).toBe('FORBIDDEN');
    expect(await codeOf(outsider.http.messages.list.query({ scopeId: room.id }))).toBe('FORBIDDEN');
    // The tree shows the member what they may see, and the owner everything.
    const names = (await m.http.scopes.tree.query({ rootId: c.id })).map((n) => n.name).sort();
    expect(names).toEqual(['Guild', 'general']);
    const all = (await owner.http.scopes.tree.query({ rootId: c.id })).map((n) => n.name).sort();
    expect(all).toEqual(['Guild', 'general', 'mods', 'staff']);
  });

  it('hides everything in a secret community from outsiders', async () => {
    const { c, room } = await community('secret');
    const outsider = await env.user('outsider');
    expect(await codeOf(outsider.http.scopes.get.query({ scopeId: c.id }))).toBe('NOT_FOUND');
    expect(await codeOf(outsider.http.scopes.get.query({ scopeId: room.id }))).toBe('NOT_FOUND');
    expect(await codeOf(outsider.http.scopes.tree.query({ rootId: c.id }))).toBe('NOT_FOUND');
  });
});

describe('roles, overwrites, effective and explain', () => {
  it('computes effective permissions top-down and explains the deciding overwrite', async () => {
    const { owner, c, room, everyone } = await community();
    const m = await member([c.id, room.id]);
    const eff = await m.http.permissions.effective.query({ scopeId: room.id });
    expect(typeof eff.permissions).toBe('bigint');
    expect(has(eff.permissions, Permission.SendMessages)).toBe(true);
    expect(has(eff.permissions, Permission.KickMembers)).toBe(false);

    await owner.http.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'role', targetId: everyone.id, deny: Permission.SendMessages });
    expect(await codeOf(m.http.messages.send.mutate({ scopeId: room.id, body: 'hi' }))).toBe('FORBIDDEN');
    const why = await m.http.permissions.explain.query({ scopeId: room.id, flag: 'SendMessages' });
    expect(why).toMatchObject({ allowed: false, decidedBy: { kind: 'overwrite', scopeId: room.id, targetType: 'role', targetId: everyone.id, effect: 'deny' } });

    // A member overwrite comes after the role overwrite: allow wins for this member.
    await owner.http.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'member', targetId: m.userId, allow: Permission.SendMessages });
    await m.http.messages.send.mutate({ scopeId: room.id, body: 'allowed again' });
    expect((await m.http.permissions.explain.query({ scopeId: room.id, flag: 'SendMessages' })).decidedBy).toMatchObject({ kind: 'overwrite', targetType: 'member' });

    await owner.http.permissions.clearOverwrite.mutate({ scopeId: room.id, targetType: 'member', targetId: m.userId });
    expect(await codeOf(m.http.messages.send.mutate({ scopeId: room.id, body: 'hi' }))).toBe('FORBIDDEN');
    // The owner holds everything, overwrites or not, and explain says why.
    expect((await owner.http.permissions.effective.query({ scopeId: room.id })).permissions).toBe(ALL_PERMISSIONS);
    expect((await owner.http.permissions.explain.query({ scopeId: room.id, flag: 'SendMessages' })).decidedBy).toEqual({ kind: 'owner', scopeId: c.id });
  });

  it('applies a role assigned in the community to its rooms, and the admin role flags the owners choose', async () => {
    const { owner, c, room, admin } = await community();
    const m = await member([c.id, room.id]);
    const pinner = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'pinner', permissions: Permission.PinMessages });
    const msg = await owner.http.messages.send.mutate({ scopeId: room.id, body: 'pin me' });
    expect(await codeOf(m.http.pins.add.mutate({ scopeId: room.id, messageId: msg.id }))).toBe('FORBIDDEN');
    await owner.http.roles.assign.mutate({ roleId: pinner.id, userId: m.userId });
    await m.http.pins.add.mutate({ scopeId: room.id, messageId: msg.id });
    const why = await m.http.permissions.explain.query({ scopeId: room.id, flag: 'PinMessages' });
    expect(why.decidedBy).toEqual({ kind: 'role', scopeId: c.id, roleId: pinner.id });

    await owner.http.roles.assign.mutate({ roleId: admin.id, userId: m.userId });
    expect(has((await m.http.permissions.effective.query({ scopeId: room.id })).permissions, Permission.BanMembers)).toBe(true);
    await owner.http.roles.update.mutate({ roleId: admin.id, permissions: Permission.View | Permission.ReadHistory | Permission.KickMembers });
    const after = (await m.http.permissions.effective.query({ scopeId: room.id })).permissions;
    expect(has(after, Permission.BanMembers)).toBe(false);
    expect(has(after, Permission.KickMembers)).toBe(true);
  });

  it('shows a change on the next call through a second instance (perm_version cache)', async () => {
    const { owner, c, room, everyone } = await community();
    const m = await member([c.id, room.id]);
    const mOnB = createClient({ url: env.b.url, token: m.token });
    // Warm the cache on both instances.
    expect(has((await mOnB.permissions.effective.query({ scopeId: room.id })).permissions, Permission.SendMessages)).toBe(true);
    await m.http.messages.send.mutate({ scopeId: room.id, body: 'warm' });
    const version = async () => {
      const res = (await env.a.services.database.db.execute(sql`select perm_version from scopes where id = ${c.id}`)) as unknown as { rows: { perm_version: string }[] };
      return Number(res.rows[0]!.perm_version);
    };
    const v1 = await version();
    // The answer is cached (Redis) under the community's current perm_version.
    expect(await env.b.services.cache.get(`perm:${c.id}:${v1}:${room.id}:${m.userId}`)).not.toBeNull();
    // Change through instance A; read through instance B at once.
    await owner.http.permissions.setOverwrite.mutate({ scopeId: c.id, targetType: 'role', targetId: everyone.id, deny: Permission.SendMessages });
    expect(has((await mOnB.permissions.effective.query({ scopeId: room.id })).permissions, Permission.SendMessages)).toBe(false);
    expect(await codeOf(mOnB.messages.send.mutate({ scopeId: room.id, body: 'x' }))).toBe('FORBIDDEN');
    expect(await version()).toBeGreaterThan(v1);
  });
});

describe('the hierarchy: what an attacker tries', () => {
  async function withAdmin() {
    const base = await community();
    const adm = await member([base.c.id, base.room.id], 'admin');
    await base.owner.http.roles.assign.mutate({ roleId: base.admin.id, userId: adm.userId });
    return { ...base, adm };
  }

  it('an admin cannot kick, ban, time out or demote an owner', async () => {
    const { owner, c, adm, admin } = await withAdmin();
    expect(await codeOf(adm.http.moderation.kick.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.moderation.ban.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('FORBIDDEN');
    const until = new Date(Date.now() + 60_000);
    expect(await codeOf(adm.http.moderation.timeout.mutate({ scopeId: c.id, userId: owner.userId, until }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.owners.remove.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.members.remove.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.roles.update.mutate({ roleId: admin.id, permissions: ALL_PERMISSIONS }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.owners.add.mutate({ scopeId: c.id, userId: adm.userId }))).toBe('FORBIDDEN');
    // Nothing changed: the owner is still a member and owner.
    const owners = (await owner.http.members.list.query({ scopeId: c.id })).items.filter((i) => i.isOwner).map((i) => i.userId);
    expect(owners).toEqual([owner.userId]);
  });

  it('a member cannot grant itself admin, a role, an overwrite or a flag it does not hold', async () => {
    const { owner, c, room, admin, everyone, adm } = await withAdmin();
    const m = await member([c.id, room.id]);
    expect(await codeOf(m.http.roles.assign.mutate({ roleId: admin.id, userId: m.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.roles.create.mutate({ scopeId: c.id, name: 'me', permissions: Permission.Administrator }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'member', targetId: m.userId, allow: Permission.KickMembers }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.permissions.setMemberGrant.mutate({ scopeId: c.id, userId: m.userId, permissions: Permission.BanMembers }))).toBe('FORBIDDEN');
    // An admin cannot grant a flag it does not hold (Administrator is not in the admin role by default),
    const r = await adm.http.roles.create.mutate({ scopeId: c.id, name: 'helpers', permissions: Permission.PinMessages });
    expect(r.position).toBeLessThan(admin.position);
    expect(await codeOf(adm.http.roles.update.mutate({ roleId: r.id, permissions: Permission.Administrator }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.roles.create.mutate({ scopeId: c.id, name: 'x', permissions: Permission.Administrator }))).toBe('FORBIDDEN');
    // nor assign the admin role.
    expect(await codeOf(adm.http.roles.assign.mutate({ roleId: admin.id, userId: m.userId }))).toBe('FORBIDDEN');
    // An owner overwrite cannot carry Administrator (bad input).
    expect(await codeOf(owner.http.permissions.setOverwrite.mutate({ scopeId: room.id, targetType: 'role', targetId: everyone.id, allow: Permission.Administrator }))).toBe('BAD_REQUEST');
    expect(has((await m.http.permissions.effective.query({ scopeId: room.id })).permissions, Permission.KickMembers)).toBe(false);
  });

  it('a peer admin cannot act on another admin (equal highest role)', async () => {
    const { owner, c, room, admin, adm } = await withAdmin();
    const adm2 = await member([c.id, room.id], 'admin2');
    await owner.http.roles.assign.mutate({ roleId: admin.id, userId: adm2.userId });
    expect(await codeOf(adm.http.moderation.kick.mutate({ scopeId: c.id, userId: adm2.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(adm.http.roles.unassign.mutate({ roleId: admin.id, userId: adm2.userId }))).toBe('FORBIDDEN');
  });

  it('a custom-role moderator acts only below its own highest role', async () => {
    const { owner, c, room } = await community();
    const mod = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'mod', position: 10, permissions: Permission.ManageRoles | Permission.KickMembers });
    const senior = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'senior', position: 20 });
    const junior = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'junior', position: 5 });
    const m = await member([c.id, room.id], 'mod');
    const s = await member([c.id, room.id], 'senior');
    const j = await member([c.id, room.id], 'junior');
    await owner.http.roles.assign.mutate({ roleId: mod.id, userId: m.userId });
    await owner.http.roles.assign.mutate({ roleId: senior.id, userId: s.userId });
    await owner.http.roles.assign.mutate({ roleId: junior.id, userId: j.userId });
    expect(await codeOf(m.http.roles.create.mutate({ scopeId: c.id, name: 'peer', position: 10 }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.roles.update.mutate({ roleId: mod.id, position: 30 }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.roles.update.mutate({ roleId: senior.id, name: 'renamed' }))).toBe('FORBIDDEN');
    expect(await codeOf(m.http.moderation.kick.mutate({ scopeId: c.id, userId: s.userId }))).toBe('FORBIDDEN');
    expect((await m.http.roles.create.mutate({ scopeId: c.id, name: 'below', position: 9 })).position).toBe(9);
    expect(await m.http.moderation.kick.mutate({ scopeId: c.id, userId: j.userId })).toEqual({ left: 2 });
  });

  it('refuses to move a scope under its own descendant', async () => {
    const { owner, c } = await community();
    const g = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'g' });
    const sub = await owner.http.scopes.create.mutate({ kind: 'group', parentId: g.id, name: 'sub' });
    expect(await codeOf(owner.http.scopes.move.mutate({ scopeId: g.id, parentId: sub.id }))).toBe('BAD_REQUEST');
    expect(await codeOf(owner.http.scopes.move.mutate({ scopeId: g.id, parentId: g.id }))).toBe('BAD_REQUEST');
    expect((await owner.http.scopes.get.query({ scopeId: sub.id })).path).toEqual([c.id, g.id]);
  });
});
