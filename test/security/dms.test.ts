import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { governanceEnv } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

const messageOf = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e.message);

describe('direct conversations, as Discord: a shared community, or the target allows anyone', () => {
  it('refuses a stranger with the same answer as an unknown user, until they share a community or the target allows anyone', async () => {
    const target = await env.user('target');
    const stranger = await env.user('stranger');
    for (const k of [stranger.http, stranger.ws]) {
      const refused = await messageOf(k.dms.open.mutate({ userIds: [target.userId] }));
      const unknown = await messageOf(k.dms.open.mutate({ userIds: ['00000000-0000-4000-8000-000000000001'] }));
      expect(refused).toBe(unknown);
      expect(await codeOf(k.dms.open.mutate({ userIds: [target.userId] }))).toBe('NOT_FOUND');
    }
    expect(await target.http.dms.settings.query()).toEqual({ allowDmsFrom: 'communities' });
    // A group DM with the stranger in it is refused the same way.
    const friend = await env.user('friend');
    await friend.http.dms.updateSettings.mutate({ allowDmsFrom: 'anyone' });
    expect(await codeOf(stranger.http.dms.open.mutate({ userIds: [friend.userId, target.userId] }))).toBe('NOT_FOUND');
    // The target allows anyone: the stranger may.
    expect(await target.ws.dms.updateSettings.mutate({ allowDmsFrom: 'anyone' })).toEqual({ allowDmsFrom: 'anyone' });
    expect((await stranger.http.dms.open.mutate({ userIds: [target.userId] })).memberIds).toHaveLength(2);
    // Or they share a community.
    const other = await env.user('other');
    const c = await other.http.scopes.create.mutate({ kind: 'community', name: 'D' });
    const member = await env.user('member');
    await member.http.members.join.mutate({ scopeId: c.id });
    expect((await member.ws.dms.open.mutate({ userIds: [other.userId] })).memberIds.sort()).toEqual([member.userId, other.userId].sort());
    expect(await codeOf(env.a.services.dms.open(member.userId, [friend.userId, other.userId]))).toBeUndefined();
  });

  it('leaving a DM holds until the user reopens it', async () => {
    const a = await env.user('a');
    const b = await env.user('b');
    await b.http.dms.updateSettings.mutate({ allowDmsFrom: 'anyone' });
    await a.http.dms.updateSettings.mutate({ allowDmsFrom: 'anyone' });
    const dm = await a.http.dms.open.mutate({ userIds: [b.userId] });
    await b.http.members.leave.mutate({ scopeId: dm.scope.id });
    const again = await a.ws.dms.open.mutate({ userIds: [b.userId] });
    expect(again.scope.id).toBe(dm.scope.id);
    expect(again.memberIds).toEqual([a.userId]);
    await a.http.messages.send.mutate({ scopeId: dm.scope.id, body: 'are you there?' });
    expect(await codeOf(b.http.messages.list.query({ scopeId: dm.scope.id }))).toBe('NOT_FOUND');
    expect((await b.http.dms.list.query()).map((d) => d.scope.id)).not.toContain(dm.scope.id);
    // B reopens it: back in, with the history.
    const back = await b.http.dms.open.mutate({ userIds: [a.userId] });
    expect(back.memberIds.sort()).toEqual([a.userId, b.userId].sort());
    expect((await b.http.messages.list.query({ scopeId: dm.scope.id })).items.map((m) => m.body)).toEqual(['are you there?']);
  });
});
