import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission, type GuildhallClient } from '../../sdk/src/index.js';
import { codeOf } from '../helpers/errors.js';
import { governanceEnv, type TestUser } from './fixture.js';

/**
 * The authorization matrix: every procedure of issue 3, called by an owner, an admin
 * (the built-in admin role), a member, an outsider and a banned user, over HTTP (the
 * SDK client) and over WebSocket (a wsLink-only client). The expected outcome of each
 * cell is written below: 'ok' or the tRPC error code.
 */
type Persona = 'owner' | 'admin' | 'member' | 'outsider' | 'banned';
type Outcome = 'ok' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST';
const PERSONAS: Persona[] = ['owner', 'admin', 'member', 'outsider', 'banned'];

let env: Awaited<ReturnType<typeof governanceEnv>>;
let fx: Awaited<ReturnType<typeof fixture>>;

/** A user who never signs in: made in the database, for targets of destructive calls. */
async function spare(): Promise<string> {
  const res = (await env.a.services.database.db.execute(
    sql`insert into users (email, display_name, password_hash) values (${`spare-${randomUUID()}@example.com`}, 'spare', 'x') returning id`,
  )) as unknown as { rows: { id: string }[] };
  return res.rows[0]!.id;
}

async function fixture() {
  const s = env.a.services;
  const users = {} as Record<Persona, TestUser>;
  for (const p of PERSONAS) users[p] = await env.user(p);
  const owner = users.owner;
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Matrix' });
  const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'general' });
  const group = await owner.http.scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'g' });
  const roles = await owner.http.roles.list.query({ scopeId: c.id });
  const admin = roles.find((r) => r.kind === 'admin')!;
  const everyone = roles.find((r) => r.kind === 'everyone')!;
  for (const p of ['admin', 'member', 'banned'] as const) {
    await users[p].http.members.join.mutate({ scopeId: c.id });
    await users[p].http.members.join.mutate({ scopeId: room.id });
  }
  await owner.http.roles.assign.mutate({ roleId: admin.id, userId: users.admin.userId });
  await owner.http.moderation.ban.mutate({ scopeId: c.id, userId: users.banned.userId });
  /** A spare user who is a member of the community (and the room when asked). */
  const spareMember = async (inRoom = false) => {
    const id = await spare();
    await s.members.insert(owner.userId, c.id, id, 'test');
    if (inRoom) await s.members.insert(owner.userId, room.id, id, 'test');
    return id;
  };
  return { users, owner, c, room, group, admin, everyone, spareMember };
}

type Case = { name: string; expect: Record<Persona, Outcome>; run: (client: GuildhallClient) => Promise<unknown> };
const row = (owner: Outcome, admin: Outcome, member: Outcome, outsider: Outcome, banned: Outcome) => ({ owner, admin, member, outsider, banned });

const cases: Case[] = [
  { name: 'scopes.get (public room)', expect: row('ok', 'ok', 'ok', 'ok', 'NOT_FOUND'), run: (k) => k.scopes.get.query({ scopeId: fx.room.id }) },
  { name: 'scopes.tree', expect: row('ok', 'ok', 'ok', 'ok', 'NOT_FOUND'), run: (k) => k.scopes.tree.query({ rootId: fx.c.id }) },
  { name: 'scopes.create', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.scopes.create.mutate({ kind: 'room', parentId: fx.c.id, name: 'new' }) },
  { name: 'scopes.update', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.scopes.update.mutate({ scopeId: fx.room.id, description: 'd' }) },
  { name: 'scopes.archive', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.scopes.archive.mutate({ scopeId: fx.room.id, archived: false }) },
  {
    // Membership is explicit: the admin is not a member of the new room, so holds nothing
    // there (compute.ts rule 3); it may see the public room exists, hence FORBIDDEN.
    name: 'scopes.move (a room the admin has not joined)',
    expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const r = await fx.owner.http.scopes.create.mutate({ kind: 'room', parentId: fx.c.id, name: 'mv' });
      return k.scopes.move.mutate({ scopeId: r.id, parentId: fx.group.id });
    },
  },
  {
    name: 'scopes.delete (group)',
    expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const g = await fx.owner.http.scopes.create.mutate({ kind: 'group', parentId: fx.c.id, name: 'del' });
      return k.scopes.delete.mutate({ scopeId: g.id });
    },
  },
  { name: 'members.join (room)', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.members.join.mutate({ scopeId: fx.room.id }) },
  { name: 'members.list', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.members.list.query({ scopeId: fx.c.id }) },
  { name: 'members.add', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: async (k) => k.members.add.mutate({ scopeId: fx.room.id, userId: await fx.spareMember() }) },
  { name: 'members.remove', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: async (k) => k.members.remove.mutate({ scopeId: fx.c.id, userId: await fx.spareMember() }) },
  { name: 'owners.add', expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: async (k) => k.owners.add.mutate({ scopeId: fx.c.id, userId: await fx.spareMember() }) },
  {
    name: 'owners.remove',
    expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const id = await fx.spareMember();
      await fx.owner.http.owners.add.mutate({ scopeId: fx.c.id, userId: id });
      return k.owners.remove.mutate({ scopeId: fx.c.id, userId: id });
    },
  },
  {
    name: 'owners.transfer (group)',
    expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const g = await fx.owner.http.scopes.create.mutate({ kind: 'group', parentId: fx.c.id, name: 'tr' });
      const id = await fx.spareMember();
      await env.a.services.members.insert(fx.owner.userId, g.id, id, 'test');
      return k.owners.transfer.mutate({ scopeId: g.id, userId: id });
    },
  },
  { name: 'roles.list', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.roles.list.query({ scopeId: fx.c.id }) },
  { name: 'roles.create', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.roles.create.mutate({ scopeId: fx.c.id, name: 'r', position: 3 }) },
  {
    name: 'roles.update',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.roles.update.mutate({ roleId: (await fx.owner.http.roles.create.mutate({ scopeId: fx.c.id, name: 'u', position: 4 })).id, name: 'u2' }),
  },
  {
    name: 'roles.delete',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.roles.delete.mutate({ roleId: (await fx.owner.http.roles.create.mutate({ scopeId: fx.c.id, name: 'd', position: 4 })).id }),
  },
  {
    name: 'roles.assign',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const r = await fx.owner.http.roles.create.mutate({ scopeId: fx.c.id, name: 'a', position: 4 });
      return k.roles.assign.mutate({ roleId: r.id, userId: await fx.spareMember() });
    },
  },
  {
    name: 'roles.unassign',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const r = await fx.owner.http.roles.create.mutate({ scopeId: fx.c.id, name: 'a', position: 4 });
      const id = await fx.spareMember();
      await fx.owner.http.roles.assign.mutate({ roleId: r.id, userId: id });
      return k.roles.unassign.mutate({ roleId: r.id, userId: id });
    },
  },
  { name: 'permissions.effective', expect: row('ok', 'ok', 'ok', 'ok', 'NOT_FOUND'), run: (k) => k.permissions.effective.query({ scopeId: fx.room.id }) },
  { name: 'permissions.explain', expect: row('ok', 'ok', 'ok', 'ok', 'NOT_FOUND'), run: (k) => k.permissions.explain.query({ scopeId: fx.room.id, flag: 'SendMessages' }) },
  {
    name: 'permissions.effective (of another user)',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: (k) => k.permissions.effective.query({ scopeId: fx.room.id, userId: fx.owner.userId }),
  },
  { name: 'permissions.listOverwrites', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.permissions.listOverwrites.query({ scopeId: fx.room.id }) },
  {
    name: 'permissions.setOverwrite',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.permissions.setOverwrite.mutate({ scopeId: fx.room.id, targetType: 'member', targetId: await fx.spareMember(true), deny: Permission.AddReactions }),
  },
  {
    name: 'permissions.clearOverwrite',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const id = await fx.spareMember(true);
      await fx.owner.http.permissions.setOverwrite.mutate({ scopeId: fx.room.id, targetType: 'member', targetId: id, deny: Permission.AddReactions });
      return k.permissions.clearOverwrite.mutate({ scopeId: fx.room.id, targetType: 'member', targetId: id });
    },
  },
  {
    name: 'permissions.setMemberGrant',
    expect: row('ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.permissions.setMemberGrant.mutate({ scopeId: fx.c.id, userId: await fx.spareMember(), permissions: Permission.PinMessages }),
  },
  { name: 'invites.create', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.invites.create.mutate({ scopeId: fx.c.id }) },
  { name: 'invites.list', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.invites.list.query({ scopeId: fx.c.id }) },
  {
    name: 'invites.revoke',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.invites.revoke.mutate({ inviteId: (await fx.owner.http.invites.create.mutate({ scopeId: fx.c.id })).id }),
  },
  { name: 'moderation.kick', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: async (k) => k.moderation.kick.mutate({ scopeId: fx.c.id, userId: await fx.spareMember() }) },
  { name: 'moderation.ban', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: async (k) => k.moderation.ban.mutate({ scopeId: fx.c.id, userId: await fx.spareMember() }) },
  {
    name: 'moderation.unban',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => {
      const id = await fx.spareMember();
      await fx.owner.http.moderation.ban.mutate({ scopeId: fx.c.id, userId: id });
      return k.moderation.unban.mutate({ scopeId: fx.c.id, userId: id });
    },
  },
  { name: 'moderation.listBans', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.moderation.listBans.query({ scopeId: fx.c.id }) },
  {
    name: 'moderation.timeout',
    expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'),
    run: async (k) => k.moderation.timeout.mutate({ scopeId: fx.c.id, userId: await fx.spareMember(), until: new Date(Date.now() + 60_000) }),
  },
  { name: 'audit.list', expect: row('ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.audit.list.query({ scopeId: fx.c.id }) },
  {
    name: 'dms.open (someone who takes DMs from anyone)',
    expect: row('ok', 'ok', 'ok', 'ok', 'ok'),
    run: async (k) => {
      const id = await spare();
      await env.a.services.database.db.execute(sql`update users set allow_dms_from = 'anyone' where id = ${id}`);
      return k.dms.open.mutate({ userIds: [id] });
    },
  },
  // A DM needs a shared community by default (issue 10): the outsider and the banned user share none.
  { name: 'dms.open (a member of the community)', expect: row('ok', 'ok', 'ok', 'NOT_FOUND', 'NOT_FOUND'), run: async (k) => k.dms.open.mutate({ userIds: [await fx.spareMember()] }) },
  { name: 'dms.settings', expect: row('ok', 'ok', 'ok', 'ok', 'ok'), run: (k) => k.dms.settings.query() },
  { name: 'dms.list', expect: row('ok', 'ok', 'ok', 'ok', 'ok'), run: (k) => k.dms.list.query() },
  { name: 'messages.send', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.messages.send.mutate({ scopeId: fx.room.id, body: 'hi' }) },
  { name: 'messages.list', expect: row('ok', 'ok', 'ok', 'FORBIDDEN', 'NOT_FOUND'), run: (k) => k.messages.list.query({ scopeId: fx.room.id }) },
  // Last: redeeming makes the outsider a member of the community.
  {
    name: 'invites.redeem',
    expect: row('ok', 'ok', 'ok', 'ok', 'FORBIDDEN'),
    run: async (k) => k.invites.redeem.mutate({ code: (await fx.owner.http.invites.create.mutate({ scopeId: fx.c.id })).code }),
  },
];

beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

for (const transport of ['http', 'ws'] as const) {
  describe(`authorization matrix over ${transport}`, () => {
    beforeAll(async () => {
      fx = await fixture();
    });
    for (const c of cases) {
      it(c.name, async () => {
        const got: Record<string, Outcome> = {};
        for (const p of PERSONAS) got[p] = ((await codeOf(c.run(fx.users[p][transport]))) ?? 'ok') as Outcome;
        expect(got).toEqual(c.expect);
      });
    }
  });
}

/**
 * The group-creator escalation (issue 10): a member whose only extra flag is
 * CreateChildScopes creates a group and so owns it. Owners of an ancestor are owners of
 * the whole subtree: nobody below acts on them, and the last-owner rule counts them.
 */
for (const transport of ['http', 'ws'] as const) {
  describe(`owners of an ancestor over ${transport}`, () => {
    async function escalation() {
      const owner = await env.user('owner');
      const creator = await env.user('creator');
      const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'Esc' });
      const builder = await owner.http.roles.create.mutate({ scopeId: c.id, name: 'builder', position: 2, permissions: Permission.View | Permission.ReadHistory | Permission.SendMessages | Permission.CreateChildScopes });
      await creator.http.members.join.mutate({ scopeId: c.id });
      await owner.http.roles.assign.mutate({ roleId: builder.id, userId: creator.userId });
      const group = await creator[transport].scopes.create.mutate({ kind: 'group', parentId: c.id, name: 'mine' });
      const sub = await creator[transport].scopes.create.mutate({ kind: 'group', parentId: group.id, name: 'sub' });
      const room = await creator[transport].scopes.create.mutate({ kind: 'room', parentId: group.id, name: 'room', visibility: 'private' });
      await owner.http.members.join.mutate({ scopeId: group.id });
      return { owner, creator, c, group, sub, room, k: creator[transport], o: owner[transport] };
    }

    it('nobody below acts on an owner of an ancestor, in the group, a subgroup or a room', async () => {
      const { owner, group, sub, room, k, o } = await escalation();
      const until = new Date(Date.now() + 60_000);
      // A ban needs no membership: refused in the group and every scope below it.
      for (const scopeId of [group.id, sub.id, room.id]) expect(await codeOf(k.moderation.ban.mutate({ scopeId, userId: owner.userId }))).toBe('FORBIDDEN');
      expect(await codeOf(k.moderation.timeout.mutate({ scopeId: group.id, userId: owner.userId, until }))).toBe('FORBIDDEN');
      expect(await codeOf(k.moderation.kick.mutate({ scopeId: group.id, userId: owner.userId }))).toBe('FORBIDDEN');
      expect(await codeOf(k.members.remove.mutate({ scopeId: group.id, userId: owner.userId }))).toBe('FORBIDDEN');
      // The owner is not locked out of anything below.
      for (const scopeId of [group.id, sub.id, room.id]) {
        expect((await o.scopes.get.query({ scopeId })).id).toBe(scopeId);
        await o.messages.send.mutate({ scopeId, body: 'still here' });
      }
      // And the owner acts on the group's creator there.
      await o.moderation.timeout.mutate({ scopeId: group.id, userId: (await k.auth.me.query()).id, until });
    });

    it('the community owner kicks, bans and removes the only owner of a group they made', async () => {
      for (const action of ['kick', 'ban', 'remove'] as const) {
        const { creator, c, group, o } = await escalation();
        const input = { scopeId: c.id, userId: creator.userId };
        if (action === 'kick') await o.moderation.kick.mutate(input);
        else if (action === 'ban') await o.moderation.ban.mutate(input);
        else await o.members.remove.mutate(input);
        expect((await o.members.list.query({ scopeId: group.id })).items.map((m) => m.userId)).not.toContain(creator.userId);
        // The group lives on under the community's owners.
        await o.messages.send.mutate({ scopeId: group.id, body: 'mine now' });
      }
    });

    it('a group owner cannot move the group out of the community (the path trigger refuses it)', async () => {
      const { creator, group, k } = await escalation();
      const own = await creator.http.scopes.create.mutate({ kind: 'community', name: 'Elsewhere' });
      expect(await codeOf(k.scopes.move.mutate({ scopeId: group.id, parentId: own.id }))).toBe('BAD_REQUEST');
    });

    it('the last-owner rule counts owners of an ancestor: a group creator may step down, a community owner may not', async () => {
      const { owner, creator, c, group, k, o } = await escalation();
      await k.owners.remove.mutate({ scopeId: group.id, userId: creator.userId });
      expect(await codeOf(o.owners.remove.mutate({ scopeId: c.id, userId: owner.userId }))).toBe('CONFLICT');
    });
  });
}
