import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { codeOf } from '../helpers/errors.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type { EventInstance, GuildhallClient } from '../../sdk/src/index.js';

/*
 * A listing's pages are served from an in-process cache of series rows and overrides
 * (keyed by the scopes' calendar versions) and resume the previous page's merge. What a
 * user relies on: whatever changed between two pages, on this instance or another, or
 * by a write outside the services, the next page shows the calendar as it is now, and a
 * cursor from one instance is good on the other. Two servers share one database here.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: GuildhallServer;
let b: GuildhallServer;
let pool: ReturnType<typeof rawPool>;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = testPrefix();
  a = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  b = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  pool = rawPool(db.url);
});
afterAll(async () => {
  for (const c of cleanup) c();
  await a?.close(100);
  await b?.close(100);
  await pool?.end();
  await db?.drop();
});

const FROM = new Date('2026-04-01T00:00:00Z');
const TO = new Date('2026-05-01T00:00:00Z');

/** The same user on both servers. */
async function owner() {
  const u = await signUpClient(a.url, 'owner');
  const onB = createClient({ url: b.url, token: u.token });
  cleanup.push(() => closeClient(u.client), () => closeClient(onB));
  return { onA: u.client, onB, userId: u.userId, token: u.token };
}

/** A community with a room, each holding daily series at different hours (UTC). */
async function calendar(client: GuildhallClient, name: string) {
  const scopeId = (await client.scopes.create.mutate({ kind: 'community', name })).id;
  const roomId = (await client.scopes.create.mutate({ kind: 'room', name: `${name}-room`, parentId: scopeId })).id;
  const series: string[] = [];
  for (const [k, where] of [scopeId, scopeId, roomId, roomId].entries()) {
    const hour = String(8 + k * 2).padStart(2, '0');
    const ev = await client.events.create.mutate({
      scopeId: where,
      title: `series ${k}`,
      start: `2026-04-01T${hour}:00:00`,
      end: `2026-04-01T${hour}:30:00`,
      timeZone: 'UTC',
      rrule: 'FREQ=DAILY',
    });
    series.push(ev.id);
  }
  return { scopeId, roomId, series };
}

type Page = { items: EventInstance[]; nextCursor: string | null };
const page = (c: GuildhallClient, scopeId: string, cursor?: string, limit = 10): Promise<Page> =>
  c.events.instances.query({ scopeId, from: FROM, to: TO, limit, cursor }) as Promise<Page>;

/** Every instance from `cursor` on, alternating servers page by page when given two clients. */
async function rest(clients: GuildhallClient[], scopeId: string, cursor: string | undefined, limit = 10): Promise<EventInstance[]> {
  const out: EventInstance[] = [];
  for (let n = 0; n < 1000; n++) {
    const p = await page(clients[n % clients.length]!, scopeId, cursor, limit);
    out.push(...p.items);
    if (!p.nextCursor) return out;
    cursor = p.nextCursor;
  }
  throw new Error('too many pages');
}

const key = (i: EventInstance) => `${i.start}|${i.eventId}|${i.originalStart}|${i.title}`;

describe('events.instances pages after a change', () => {
  it('a move, a cancel, a title edit and a new series made on the other instance show on the next page', async () => {
    const u = await owner();
    const { scopeId, roomId, series } = await calendar(u.onA, 'edits');
    const first = await page(u.onA, scopeId);
    expect(first.items.map((i) => i.start)).toEqual([
      '2026-04-01T08:00:00Z', '2026-04-01T10:00:00Z', '2026-04-01T12:00:00Z', '2026-04-01T14:00:00Z',
      '2026-04-02T08:00:00Z', '2026-04-02T10:00:00Z', '2026-04-02T12:00:00Z', '2026-04-02T14:00:00Z',
      '2026-04-03T08:00:00Z', '2026-04-03T10:00:00Z',
    ]);
    // The next page, read now, primes this instance's merge and caches; then B changes things after the cursor.
    const before = await page(u.onA, scopeId, first.nextCursor!);
    expect(before.items[0]!.start).toBe('2026-04-03T12:00:00Z');
    // Series 3's 04-10 instance moves to 04-03 13:00 (between the cursor and its old place); series 0's 04-04 is cancelled.
    await u.onB.events.updateInstance.mutate({ eventId: series[3]!, originalStart: '2026-04-10T14:00:00Z', start: '2026-04-03T13:00:00', end: '2026-04-03T13:30:00' });
    await u.onB.events.cancelInstance.mutate({ eventId: series[0]!, originalStart: '2026-04-04T08:00:00Z' });
    await u.onB.events.update.mutate({ eventId: series[1]!, title: 'renamed' });
    const added = await u.onB.events.create.mutate({ scopeId: roomId, title: 'new', start: '2026-04-03T11:00:00', end: '2026-04-03T11:15:00', timeZone: 'UTC' });

    const after = await page(u.onA, scopeId, first.nextCursor!);
    expect(after.items.slice(0, 6).map((i) => `${i.start} ${i.title}`)).toEqual([
      '2026-04-03T11:00:00Z new',
      '2026-04-03T12:00:00Z series 2',
      '2026-04-03T13:00:00Z series 3',
      '2026-04-03T14:00:00Z series 3',
      '2026-04-04T10:00:00Z renamed',
      '2026-04-04T12:00:00Z series 2',
    ]);
    expect(after.items[2]).toMatchObject({ eventId: series[3], originalStart: '2026-04-10T14:00:00Z', overridden: true });

    // The whole remaining walk, on A alone and alternating A and B, equals a fresh walk cut at the same cursor.
    const fresh = await rest([u.onB], scopeId, undefined, 7);
    const cut = fresh.findIndex((i) => i.start === '2026-04-03T11:00:00Z');
    const expected = fresh.slice(cut).map(key);
    expect((await rest([u.onA], scopeId, first.nextCursor!)).map(key)).toEqual(expected);
    expect((await rest([u.onA, u.onB], scopeId, first.nextCursor!)).map(key)).toEqual(expected);
    expect(expected).not.toContain(`2026-04-04T08:00:00Z|${series[0]}|2026-04-04T08:00:00Z|series 0`);
    expect(expected.filter((k) => k.includes(series[3]!) && k.includes('2026-04-10T14:00:00Z'))).toEqual([`2026-04-03T13:00:00Z|${series[3]}|2026-04-10T14:00:00Z|series 3`]);
    expect(fresh.filter((i) => i.eventId === added.id)).toHaveLength(1);
  });

  it('a series deleted between pages is gone from the next page, on both instances', async () => {
    const u = await owner();
    const { scopeId, series } = await calendar(u.onA, 'deletes');
    const first = await page(u.onA, scopeId);
    await page(u.onB, scopeId, first.nextCursor!);
    await page(u.onA, scopeId, first.nextCursor!);
    await u.onA.events.delete.mutate({ eventId: series[2]! });
    for (const c of [u.onA, u.onB]) {
      const next = await rest([c], scopeId, first.nextCursor!);
      // Series 0 and 1 from 04-04 (27 days each), series 3 from 04-03 (28).
      expect(next.length).toBe(27 * 2 + 28);
      expect(next.some((i) => i.eventId === series[2])).toBe(false);
    }
  });

  it('a write outside the services (raw SQL) is seen by the next page: the trigger raises the version', async () => {
    const u = await owner();
    const { scopeId, series } = await calendar(u.onA, 'raw');
    const first = await page(u.onA, scopeId);
    expect((await page(u.onA, scopeId, first.nextCursor!)).items.some((i) => i.title === 'series 0')).toBe(true);
    await pool.query(`update events set title = 'from sql' where id = $1`, [series[0]]);
    await pool.query(`insert into event_overrides (event_id, original_start, cancelled) values ($1, '2026-04-05T10:00:00Z', true)`, [series[1]]);
    for (const c of [u.onA, u.onB]) {
      const next = await rest([c], scopeId, first.nextCursor!);
      expect(next.filter((i) => i.eventId === series[0]).every((i) => i.title === 'from sql')).toBe(true);
      expect(next.some((i) => i.eventId === series[1] && i.originalStart === '2026-04-05T10:00:00Z')).toBe(false);
    }
    await pool.query(`delete from event_overrides where event_id = $1`, [series[1]]);
    const again = await rest([u.onA], scopeId, first.nextCursor!);
    expect(again.some((i) => i.eventId === series[1] && i.originalStart === '2026-04-05T10:00:00Z')).toBe(true);
  });

  it('a viewer who leaves between pages gets no more pages', async () => {
    const u = await owner();
    const { scopeId } = await calendar(u.onA, 'access');
    const viewer = await signUpClient(a.url, 'viewer');
    cleanup.push(() => closeClient(viewer.client));
    await viewer.client.members.join.mutate({ scopeId });
    const first = await page(viewer.client, scopeId);
    expect(first.items).toHaveLength(10);
    await page(viewer.client, scopeId, first.nextCursor!);
    await u.onA.scopes.update.mutate({ scopeId, visibility: 'private' });
    await viewer.client.members.leave.mutate({ scopeId });
    expect(await codeOf(page(viewer.client, scopeId, first.nextCursor!))).toMatch(/NOT_FOUND|FORBIDDEN/);
  });
});

describe('events.instances page size', () => {
  it('takes pages of up to 2,500 (Google Calendar\'s maxResults cap): one page equals the walk in small pages; 2,501 is BAD_REQUEST', async () => {
    const { onA, token } = await owner();
    const { scopeId } = await calendar(onA, 'big-pages');
    const walked = (await rest([onA], scopeId, undefined, 7)).map(key);
    expect(walked.length).toBe(120); // 4 daily series over April
    const one = await page(onA, scopeId, undefined, 2_500);
    expect(one.nextCursor).toBeNull();
    expect(one.items.map(key)).toEqual(walked);
    expect(await codeOf(page(onA, scopeId, undefined, 2_501))).toBe('BAD_REQUEST');
    // A date that is not one says what a date-time looks like (REST, as other languages call it).
    const res = await fetch(`${a.url}/api/events/instances?scopeId=${scopeId}&from=notadate&to=2026-05-01T00:00:00Z&limit=10`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/from must be a date-time, e\.g\. 2026-01-01T00:00:00Z/);
  });
});
