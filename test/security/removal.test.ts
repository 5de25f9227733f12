import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { collect } from '../helpers/subscribe.js';
import { errCode } from '../helpers/errors.js';
import { sseSubscribe } from '../helpers/sse.js';
import { governanceEnv, wsOnlyClient } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

const RUNS = 100;

describe('a removed member receives nothing committed after its member.left', () => {
  it(`${RUNS} kicks and bans against a continuous sender, subscribed on both instances (WebSocket, and SSE every 10th run)`, { timeout: 240_000 }, async () => {
    const owner = await env.user('owner');
    const sender = await env.user('sender');
    const m = await env.user('m');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'R' });
    await sender.http.members.join.mutate({ scopeId: c.id });
    let sending = true;
    const loop = (async () => {
      for (let i = 0; sending; i++) await sender.http.messages.send.mutate({ scopeId: c.id, body: `m${i}` });
    })();
    const wsA = wsOnlyClient(env.a.url, m.token);
    const wsB = wsOnlyClient(env.b.url, m.token);
    const late: string[] = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        await m.http.members.join.mutate({ scopeId: c.id });
        const subs = [wsA, wsB].map((ws) => collect<ScopeStreamEvent>((h) => ws.client.messages.onEvent.subscribe({ scopeId: c.id }, h)));
        const sse = run % 10 === 0 ? [sseSubscribe(env.b.url, 'messages.onEvent', { scopeId: c.id }, m.token)] : [];
        await Promise.all([...subs.map((s) => s.started), ...sse.map((s) => s.connected)]);
        const ban = run % 4 === 3;
        if (ban) await owner.http.moderation.ban.mutate({ scopeId: c.id, userId: m.userId });
        else await owner.http.moderation.kick.mutate({ scopeId: c.id, userId: m.userId });
        const codes = await Promise.all([...subs.map((s) => s.error.then(errCode)), ...sse.map((s) => s.ended)]);
        expect(codes.every((code) => code === 'FORBIDDEN')).toBe(true);
        const { rows } = (await env.a.services.database.db.execute(
          sql`select max(seq)::int as seq from scope_events where scope_id = ${c.id} and type = 'member.left' and payload->>'userId' = ${m.userId}`,
        )) as unknown as { rows: { seq: number }[] };
        const left = rows[0]!.seq;
        const received = [...subs.map((s) => s.items), ...sse.map((s) => s.items as ScopeStreamEvent[])];
        for (const items of received) for (const e of items) if (e.seq > left) late.push(`run ${run}: ${e.type} seq ${e.seq} after member.left ${left}`);
        for (const s of subs) s.stop();
        for (const s of sse) s.close();
        if (ban) await owner.http.moderation.unban.mutate({ scopeId: c.id, userId: m.userId });
      }
    } finally {
      sending = false;
      await loop;
      wsA.close();
      wsB.close();
    }
    expect(late).toEqual([]);
  });
});
