import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { codeOf } from '../helpers/errors.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { collect } from '../helpers/subscribe.js';
import type { GuildhallServer } from '../../src/server.js';
import type { UserEvent } from '../../sdk/src/index.js';

/*
 * Reminders end to end: two instances on one database and Redis poll for due reminders
 * (every 100 ms here); each fire reaches the user's stream once. Then every instance
 * stops, a new one starts on the same database, and a reminder that comes due still
 * fires once.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: ReturnType<typeof rawPool>;
const servers: GuildhallServer[] = [];
const cleanup: (() => void)[] = [];
const prefix = testPrefix();
const env = { EVENT_REMINDER_POLL_MS: '100' };

beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
  servers.push(await startServer({ databaseUrl: db.url, redisPrefix: prefix, env }));
  servers.push(await startServer({ databaseUrl: db.url, redisPrefix: prefix, env }));
});
afterAll(async () => {
  for (const c of cleanup) c();
  await Promise.all(servers.map((s) => s.close(100)));
  await pool?.end();
  await db?.drop();
});

/** UTC wall-clock `YYYY-MM-DDTHH:mm:ss`, `ms` from now. */
const wallIn = (ms: number) => new Date(Date.now() + ms).toISOString().slice(0, 19);

/** Waits (bounded) until the reminder has no fire pending at or before its instance, then counts deliveries. */
async function settledFires(userId: string, eventId: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await pool.query(
      `select count(*)::int as n from event_reminders where event_id = $1 and user_id = $2 and next_fire_at is not null`,
      [eventId, userId],
    );
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const { rows } = await pool.query(
    `select count(*)::int as n from user_events where user_id = $1 and type = 'reminder.due' and payload->>'eventId' = $2`,
    [userId, eventId],
  );
  return rows[0].n as number;
}

describe('reminders', () => {
  let alice: Awaited<ReturnType<typeof signUpClient>>;
  let scopeId: string;

  it('validates reminders: at most 5, 0 to 40,320 minutes', async () => {
    alice = await signUpClient(servers[0]!.url, 'alice');
    cleanup.push(() => closeClient(alice.client));
    scopeId = (await alice.client.scopes.create.mutate({ kind: 'community', name: 'rem' })).id;
    const day = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    const ev = await alice.client.events.create.mutate({ scopeId, title: 'x', start: `${day}T10:00:00`, end: `${day}T11:00:00`, timeZone: 'UTC' });
    expect(await codeOf(alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [1, 2, 3, 4, 5, 6] }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [40_321] }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [-1] }))).toBe('BAD_REQUEST');
    const set = await alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [40_320, 0] });
    expect(set.map((r) => [r.minutes, r.nextFireAt?.toISOString()])).toEqual([
      [0, `${day}T10:00:00.000Z`],
      [40_320, new Date(Date.parse(`${day}T10:00:00Z`) - 28 * 86_400_000).toISOString()],
    ]);
  });

  it('refuses reminders on a series repeating more often than hourly, and stops them when a series becomes one', async () => {
    const day = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    const minutely = await alice.client.events.create.mutate({
      scopeId, title: 'm', start: `${day}T10:00:00`, end: `${day}T10:00:30`, timeZone: 'UTC', rrule: 'FREQ=SECONDLY;UNTIL=20991231T000000Z',
    });
    expect(await codeOf(alice.client.events.setReminders.mutate({ eventId: minutely.id, minutes: [0] }))).toBe('BAD_REQUEST');
    const daily = await alice.client.events.create.mutate({ scopeId, title: 'd', start: `${day}T10:00:00`, end: `${day}T11:00:00`, timeZone: 'UTC', rrule: 'FREQ=DAILY' });
    expect((await alice.client.events.setReminders.mutate({ eventId: daily.id, minutes: [5] }))[0]!.nextFireAt).not.toBeNull();
    await alice.client.events.update.mutate({ eventId: daily.id, rrule: 'FREQ=MINUTELY', end: `${day}T10:00:30` });
    expect((await alice.client.events.reminders.query({ eventId: daily.id }))[0]!.nextFireAt).toBeNull();
  });

  it('fires once across two instances, at the moved time of an instance', async () => {
    const stream = collect<UserEvent>((h) => alice.client.me.onEvent.subscribe({ lastEventId: '0' }, h));
    await stream.started;
    // Daily at a far time; the second instance is moved to ~62 s from now, with a 1-minute reminder.
    const ev = await alice.client.events.create.mutate({
      scopeId,
      title: 'moved standup',
      start: '2030-05-01T09:00:00',
      end: '2030-05-01T09:30:00',
      timeZone: 'UTC',
      rrule: 'FREQ=DAILY;COUNT=2',
    });
    const start = wallIn(62_000);
    await alice.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2030-05-02T09:00:00Z', start });
    await alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [1] });
    let due: UserEvent | undefined;
    for (let n = 1; !due; n = stream.items.length + 1) due = (await stream.until(n)).find((e) => e.type === 'reminder.due');
    expect(due).toMatchObject({ type: 'reminder.due', eventId: ev.id, scopeId, minutes: 1, instanceStart: '2030-05-02T09:00:00Z', start: `${start}Z`, title: 'moved standup' });
    stream.stop();
    // The first instance (2030) remains; the moved one fired exactly once.
    expect(await settledFiresFor(ev.id)).toBe(1);
  });

  it('fires a due reminder once after every instance stopped and a new one started on the same database', async () => {
    const ev = await alice.client.events.create.mutate({ scopeId, title: 'after restart', start: wallIn(64_000), end: wallIn(3_600_000), timeZone: 'UTC' });
    await alice.client.events.setReminders.mutate({ eventId: ev.id, minutes: [1] });
    closeClient(alice.client);
    await Promise.all(servers.splice(0).map((s) => s.close(100)));
    const fresh = await startServer({ databaseUrl: db.url, redisPrefix: prefix, env });
    servers.push(fresh);
    const onFresh = createClient({ url: fresh.url, token: alice.token });
    cleanup.push(() => closeClient(onFresh));
    const stream = collect<UserEvent>((h) => onFresh.me.onEvent.subscribe({}, h));
    let due: UserEvent | undefined;
    for (let n = 1; !due; n = stream.items.length + 1) {
      due = (await stream.until(n)).find((e) => e.type === 'reminder.due' && e.eventId === ev.id);
    }
    expect(due).toMatchObject({ title: 'after restart', minutes: 1 });
    stream.stop();
    expect(await settledFires(alice.userId, ev.id)).toBe(1);
  });

  /** Deliveries for the moved instance's event once its reminder advanced past it. */
  async function settledFiresFor(eventId: string): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await pool.query(`select next_instance from event_reminders where event_id = $1`, [eventId]);
      if (rows[0]?.next_instance !== '2030-05-02T09:00:00Z') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { rows } = await pool.query(`select count(*)::int as n from user_events where type = 'reminder.due' and payload->>'eventId' = $1`, [eventId]);
    return rows[0].n as number;
  }
});
