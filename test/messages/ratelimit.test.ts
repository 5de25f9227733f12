import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { useServers } from './setup.js';

const { ctx, user, room } = useServers({ env: { MESSAGE_SEND_RATE: '20/10' } });

describe('rate limit', () => {
  it('refuses sends past the limit with TOO_MANY_REQUESTS and when to retry, writing nothing', async () => {
    const alice = await user('alice');
    const { room: r } = await room(alice);
    const points = 20;
    const results = await Promise.allSettled(
      Array.from({ length: points + 3 }, (_, i) => alice.client.messages.send.mutate({ scopeId: r.id, body: `flood ${i}` })),
    );
    const refused = results.filter((x) => x.status === 'rejected');
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(points);
    expect(refused).toHaveLength(3);
    const reason = (refused[0] as PromiseRejectedResult).reason;
    expect(await codeOf(Promise.reject(reason))).toBe('TOO_MANY_REQUESTS');
    expect((reason as Error).message).toMatch(/try again in \d+ s/);
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(points);
    // The limit is per user and shared by both instances (Redis): another instance refuses too.
    const onB = createClient({ url: ctx.b.url, token: alice.token });
    expect(await codeOf(onB.messages.send.mutate({ scopeId: r.id, body: 'via b' }))).toBe('TOO_MANY_REQUESTS');
    // A retried nonce is not a new send and takes no point.
    const bob = await user('bob');
    const { room: r2 } = await room(bob);
    const first = await bob.client.messages.send.mutate({ scopeId: r2.id, body: 'once', nonce: 'n' });
    for (let i = 0; i < points + 2; i++) {
      expect((await bob.client.messages.send.mutate({ scopeId: r2.id, body: 'once', nonce: 'n' })).id).toBe(first.id);
    }
  });

  it('holds for sends one after another, whose points are taken ahead (each send takes the next one with its publish)', async () => {
    const carol = await user('carol');
    const { room: r } = await room(carol);
    const points = 20;
    for (let i = 0; i < points; i++) await carol.client.messages.send.mutate({ scopeId: r.id, body: `one by one ${i}` });
    expect(await codeOf(carol.client.messages.send.mutate({ scopeId: r.id, body: 'one too many' }))).toBe('TOO_MANY_REQUESTS');
    expect((await carol.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(points);
    // The other instance shares the count, points taken ahead included.
    const onB = createClient({ url: ctx.b.url, token: carol.token });
    expect(await codeOf(onB.messages.send.mutate({ scopeId: r.id, body: 'via b' }))).toBe('TOO_MANY_REQUESTS');
  });

  it('limits in process too when there is no Redis (RateLimiterMemory)', async () => {
    const solo = await startServer({ databaseUrl: ctx.db.url, redisPrefix: testPrefix(), redis: false, env: { MESSAGE_SEND_RATE: '2/60' } });
    try {
      const alice = await signUpClient(solo.url, 'solo');
      const c = await alice.client.scopes.create.mutate({ kind: 'community', name: 'Solo' });
      await alice.client.messages.send.mutate({ scopeId: c.id, body: 'one' });
      await alice.client.messages.send.mutate({ scopeId: c.id, body: 'two' });
      expect(await codeOf(alice.client.messages.send.mutate({ scopeId: c.id, body: 'three' }))).toBe('TOO_MANY_REQUESTS');
      closeClient(alice.client);
    } finally {
      await solo.close(100);
    }
  });
});
