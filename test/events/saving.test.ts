import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type { GuildhallClient } from '../../sdk/src/index.js';
import { TRPCClientError } from '@trpc/client';

/*
 * Rules that cannot work are refused when saved; a bad stored series never breaks a
 * listing; a start in a spring-forward gap is accepted and the shift is stated.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let pool: pg.Pool;
let client: GuildhallClient;
let scopeId: string;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  const u = await signUpClient(server.url, 'owner');
  cleanup.push(() => closeClient(u.client));
  client = u.client;
  scopeId = (await client.scopes.create.mutate({ kind: 'community', name: 'saving' })).id;
});
afterAll(async () => {
  for (const c of cleanup) c();
  await server?.close(100);
  await pool?.end();
  await db?.drop();
});

/** The BAD_REQUEST message `p` fails with. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError && (err.data as { code?: string }).code === 'BAD_REQUEST') return err.message;
    throw err;
  }
  throw new Error('accepted');
}

const FEB29_SECONDLY = 'FREQ=SECONDLY;UNTIL=20360101T000000Z;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0;BYMINUTE=0;BYSECOND=0';
const base = { title: 'x', start: '2026-01-05T09:00:00', end: '2026-01-05T09:30:00', timeZone: 'UTC' };

describe('refused at save', () => {
  it('a rule whose expansion cannot be bounded, on create and on update, with the reason', async () => {
    const msg = await refusal(client.events.create.mutate({ scopeId, ...base, rrule: FEB29_SECONDLY }));
    expect(msg).toMatch(/repeats every second but its BY… parts leave up to .* seconds without an instance/);
    expect(msg).toMatch(/FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29/);
    expect(await refusal(client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=SECONDLY;COUNT=10;BYHOUR=9' }))).toMatch(/82,800 seconds/);
    const ok = await client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=DAILY;COUNT=3' });
    expect(await refusal(client.events.update.mutate({ eventId: ok.id, rrule: FEB29_SECONDLY }))).toMatch(/without an instance/);
    expect((await client.events.get.query({ eventId: ok.id })).rrule).toBe('FREQ=DAILY;COUNT=3');
    // Dense sub-daily rules stay accepted.
    await client.events.create.mutate({ scopeId, ...base, end: base.start, rrule: 'FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10,11,12,13,14,15,16;BYDAY=MO,TU,WE,TH,FR;COUNT=100' });
    await client.events.create.mutate({ scopeId, ...base, end: base.start, rrule: 'FREQ=SECONDLY;INTERVAL=30;COUNT=100' });
    await client.events.delete.mutate({ eventId: ok.id });
  });

  it('an UNTIL before DTSTART (no instance at all)', async () => {
    expect(await refusal(client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=WEEKLY;UNTIL=20251231T000000Z' }))).toMatch(
      /UNTIL is before the start \(2026-01-05T09:00:00\), so the series has no instance/,
    );
    expect(await refusal(client.events.create.mutate({ scopeId, title: 'd', start: '2026-01-05', allDay: true, timeZone: 'UTC', rrule: 'FREQ=DAILY;UNTIL=20260104' }))).toMatch(
      /UNTIL is before the start/,
    );
  });

  it('a rule that matches no date at all (February 30, the 31st of 30-day months), on create and update', async () => {
    for (const rrule of ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11']) {
      expect(await refusal(client.events.create.mutate({ scopeId, ...base, rrule }))).toMatch(/rrule: this rule matches no date from the start .* to year 2200/);
    }
    const ok = await client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' });
    expect(await refusal(client.events.update.mutate({ eventId: ok.id, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30' }))).toMatch(/matches no date/);
    expect((await client.events.get.query({ eventId: ok.id })).rrule).toBe(ok.rrule);
    // With an RDATE the series still has an instance: accepted.
    const withRdate = await client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', rdates: ['2026-03-01T09:00:00'] });
    await client.events.delete.mutate({ eventId: withRdate.id });
    await client.events.delete.mutate({ eventId: ok.id });
  });
});

describe('a spring-forward gap', () => {
  it('a one-time 02:30–03:00 event on the night New York skips 02:00–03:00 starts at 03:30 and says so', async () => {
    const ev = await client.events.create.mutate({ scopeId, title: 'gap', start: '2026-03-08T02:30:00', end: '2026-03-08T03:00:00', timeZone: 'America/New_York' });
    expect(ev.notices).toEqual([
      '2026-03-08T02:30:00 does not exist in America/New_York (the clocks go forward then); the event starts at 2026-03-08T03:30:00 and ends at 2026-03-08T04:00:00, keeping its length',
    ]);
    const page = await client.events.instances.query({ eventId: ev.id, from: new Date('2026-03-08T00:00:00Z'), to: new Date('2026-03-09T00:00:00Z'), limit: 10 });
    expect(page.items.map((i) => [i.start, i.end])).toEqual([['2026-03-08T03:30:00-04:00', '2026-03-08T04:00:00-04:00']]);
  });
});

describe('one bad series never breaks a listing', () => {
  it('lists the others and names the failing one', async () => {
    const scope = (await client.scopes.create.mutate({ kind: 'community', name: 'isolated' })).id;
    const good = await client.events.create.mutate({ scopeId: scope, ...base, rrule: 'FREQ=DAILY;COUNT=3' });
    // A series stored before the save-time check existed (written with raw SQL, as an old row would be).
    const { rows } = await pool.query<{ id: string }>(
      `insert into events (scope_id, title, start_local, tzid, duration, rrule, first_start, last_end)
       values ($1, 'leap second walker', '2026-01-05T00:00:00', 'UTC', 'PT1S', $2, '2026-01-05T00:00:00Z', '2036-01-02T00:00:00Z') returning id`,
      [scope, FEB29_SECONDLY],
    );
    const page = await client.events.instances.query({ scopeId: scope, from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-02-01T00:00:00Z'), limit: 50 });
    expect(page.items.map((i) => i.eventId)).toEqual([good.id, good.id, good.id]);
    expect(page.failed).toEqual([{ eventId: rows[0]!.id, title: 'leap second walker', message: expect.stringMatching(/budget of 20000 iterations/) }]);
  });
});
