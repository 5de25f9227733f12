import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../helpers/subscribe.js';
import { errCode } from '../helpers/errors.js';
import { sseSubscribe } from '../helpers/sse.js';
import { governanceEnv, wsOnlyClient, type TestUser } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

async function privateRoom() {
  const owner = await env.user('owner');
  const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'A' });
  const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'staff', visibility: 'private' });
  const m = await env.user('m');
  await m.http.members.join.mutate({ scopeId: c.id });
  await owner.http.members.add.mutate({ scopeId: room.id, userId: m.userId });
  return { owner, c, room, m };
}

describe('typing ends when access ends', () => {
  for (const how of ['leave', 'kick', 'ban'] as const) {
    it(`after ${how}: typing.onEvent over WebSocket and SSE, on both instances, ends with FORBIDDEN`, async () => {
      const { owner, c, room, m } = await privateRoom();
      const ends: Promise<string | null>[] = [];
      const closers: (() => void)[] = [];
      for (const server of [env.a, env.b]) {
        const ws = wsOnlyClient(server.url, m.token);
        const sub = collect((h) => ws.client.typing.onEvent.subscribe({ scopeId: room.id }, h));
        await sub.started;
        ends.push(sub.error.then((e) => errCode(e) ?? null));
        closers.push(sub.stop, ws.close);
        const sse = sseSubscribe(server.url, 'typing.onEvent', { scopeId: room.id }, m.token);
        await sse.connected;
        ends.push(sse.ended);
        closers.push(sse.close);
      }
      try {
        if (how === 'leave') await m.http.members.leave.mutate({ scopeId: room.id });
        else if (how === 'kick') await owner.http.moderation.kick.mutate({ scopeId: c.id, userId: m.userId });
        else await owner.http.moderation.ban.mutate({ scopeId: c.id, userId: m.userId });
        expect(await Promise.all(ends)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
      } finally {
        closers.forEach((f) => f());
      }
    });
  }
});
