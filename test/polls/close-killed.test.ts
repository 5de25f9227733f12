import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/env.js';
import { freePort, runMain } from '../helpers/process.js';
import { collect } from '../helpers/subscribe.js';
import { createClient, closeClient, type ScopeStreamEvent } from '../../sdk/src/index.js';
import { usePollServers, VOTER_KEY } from './setup.js';
import { waitFor } from './wait.js';

/*
 * A poll created through an instance that is then killed (SIGKILL) still closes at its
 * closesAt: the two live instances of this file close it, once.
 */
const { ctx, user, room } = usePollServers();
const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-polls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('closing at closesAt', () => {
  it('happens once, with the creating instance killed', async () => {
    const port = await freePort();
    const child = runMain(dir, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: ctx.db.url,
      REDIS_URL,
      REDIS_PREFIX: ctx.prefix,
      POLL_VOTER_KEY: VOTER_KEY,
      LOG_LEVEL: 'info',
    });
    try {
      await child.waitFor(/guildhall listening/);
      const owner = await user('owner');
      const voter = await user('voter', 'b');
      const { room: r } = await room(owner, [voter]);
      const watchers = [owner, voter].map((u) => collect<ScopeStreamEvent>((h) => u.client.messages.onEvent.subscribe({ scopeId: r.id }, h)));
      await Promise.all(watchers.map((w) => w.started));
      const onDoomed = createClient({ url: `http://127.0.0.1:${port}`, token: owner.token });
      const poll = await onDoomed.polls.create.mutate({ scopeId: r.id, question: 'Closes?', options: [{ text: 'a' }, { text: 'b' }], closesAt: new Date(Date.now() + 10_000) });
      await createClient({ url: `http://127.0.0.1:${port}`, token: voter.token }).polls.vote.mutate({ pollId: poll.id, optionIds: [poll.options[0]!.id] });
      closeClient(onDoomed);
      const gone = child.exited;
      child.child.kill('SIGKILL');
      await gone;

      for (const w of watchers) {
        const closed = await waitFor(w, (e) => e.type === 'poll.closed' && e.pollId === poll.id);
        expect(closed).toMatchObject({ voterCount: 1, counts: [{ optionId: poll.options[0]!.id, count: 1 }, { optionId: poll.options[1]!.id, count: 0 }] });
      }
      // Both live instances poll every 50 ms: still one close, one event.
      await ctx.a.services.pollScheduler.tick();
      await ctx.b.services.pollScheduler.tick();
      const { rows } = await ctx.pool.query(`select count(*)::int as n from scope_events where type = 'poll.closed' and payload->>'pollId' = $1`, [poll.id]);
      expect(rows[0].n).toBe(1);
      expect((await voter.client.polls.get.query({ pollId: poll.id })).closed).toBe(true);
      for (const w of watchers) {
        expect(w.items.filter((e) => e.type === 'poll.closed')).toHaveLength(1);
        w.stop();
      }
    } finally {
      child.child.kill('SIGKILL');
    }
  }, 120_000);
});
