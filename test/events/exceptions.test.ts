import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type { EventInstance, GuildhallClient } from '../../sdk/src/index.js';

/*
 * Exceptions (overrides, cancels, EXDATEs) survive every edit of their series, and
 * SEQUENCE rises on every change: through the SDK over HTTP against real PostgreSQL.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let client: GuildhallClient;
let scopeId: string;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  const u = await signUpClient(server.url, 'owner');
  cleanup.push(() => closeClient(u.client));
  client = u.client;
  scopeId = (await client.scopes.create.mutate({ kind: 'community', name: 'exceptions' })).id;
});
afterAll(async () => {
  for (const c of cleanup) c();
  await server?.close(100);
  await db?.drop();
});

const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };

async function list(eventId: string): Promise<EventInstance[]> {
  const out: EventInstance[] = [];
  let cursor: string | undefined;
  for (;;) {
    const r = await client.events.instances.query({ eventId, ...window, limit: 100, cursor });
    out.push(...r.items);
    if (!r.nextCursor) return out;
    cursor = r.nextCursor;
  }
}

const daily = (title: string, extra: Record<string, unknown> = {}) =>
  client.events.create.mutate({
    scopeId,
    title,
    start: '2026-06-01T09:00:00',
    end: '2026-06-01T09:30:00',
    timeZone: 'America/New_York',
    rrule: 'FREQ=DAILY;COUNT=6',
    ...extra,
  });

describe('series edits carry their exceptions', () => {
  it('09:00 → 10:00: a cancel stays cancelled, an instance moved to 14:00 stays at 14:00, an EXDATE stays', async () => {
    // 09:00 EDT is 13:00Z.
    const ev = await daily('standup', { exdates: ['2026-06-05T09:00:00'] });
    await client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-06-02T13:00:00Z' });
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-03T13:00:00Z', start: '2026-06-03T14:00:00' });
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-04T13:00:00Z', title: 'demo day' });

    const edit = await client.events.update.mutate({ eventId: ev.id, start: '2026-06-01T10:00:00', end: '2026-06-01T10:30:00' });
    expect(edit.orphaned).toEqual([]);
    expect(edit.exdates).toEqual(['2026-06-05T14:00:00Z']);
    expect((await list(ev.id)).map((i) => [i.startLocal, i.title, i.originalStart])).toEqual([
      ['2026-06-01T10:00:00', 'standup', '2026-06-01T14:00:00Z'],
      ['2026-06-03T14:00:00', 'standup', '2026-06-03T14:00:00Z'],
      ['2026-06-04T10:00:00', 'demo day', '2026-06-04T14:00:00Z'],
      ['2026-06-06T10:00:00', 'standup', '2026-06-06T14:00:00Z'],
    ]);

    // 10:00 → 11:00, another shift: the series-level EXDATE still holds.
    await client.events.update.mutate({ eventId: ev.id, start: '2026-06-01T11:00:00', end: '2026-06-01T11:30:00' });
    expect((await list(ev.id)).map((i) => i.startLocal)).toEqual(['2026-06-01T11:00:00', '2026-06-03T14:00:00', '2026-06-04T11:00:00', '2026-06-06T11:00:00']);
  });

  it('a moved day (a new DTSTART date) moves the exceptions by the same number of days', async () => {
    const ev = await daily('shifted');
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-03T13:00:00Z', title: 'third' });
    await client.events.update.mutate({ eventId: ev.id, start: '2026-06-02T09:00:00', end: '2026-06-02T09:30:00' });
    const got = await list(ev.id);
    expect(got).toHaveLength(6);
    expect(got.find((i) => i.title === 'third')).toMatchObject({ startLocal: '2026-06-04T09:00:00', originalStart: '2026-06-04T13:00:00Z' });
  });

  it('New York → Chicago keeps a title-only override on its instance', async () => {
    const ev = await daily('zone');
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-02T13:00:00Z', title: 'retro' });
    const edit = await client.events.update.mutate({ eventId: ev.id, timeZone: 'America/Chicago', start: '2026-06-01T09:00:00', end: '2026-06-01T09:30:00' });
    expect(edit.orphaned).toEqual([]);
    const got = await list(ev.id);
    expect(got[1]).toMatchObject({ title: 'retro', startLocal: '2026-06-02T09:00:00', start: '2026-06-02T09:00:00-05:00', timeZone: 'America/Chicago' });
  });

  it('an override whose instance a new rule removes is kept, reported, and back when the rule is', async () => {
    const ev = await daily('weekdays', { start: '2026-06-01T09:00:00', rrule: 'FREQ=DAILY;COUNT=7' }); // Mon 1 June … Sun 7 June
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-06T13:00:00Z', title: 'saturday special', start: '2026-06-06T12:00:00' });
    await client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-06-07T13:00:00Z' });
    const edit = await client.events.update.mutate({ eventId: ev.id, rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=5' });
    expect(edit.orphaned).toEqual([
      { originalStart: '2026-06-06T13:00:00Z', cancelled: false, title: 'saturday special', start: '2026-06-06T12:00:00-04:00' },
      { originalStart: '2026-06-07T13:00:00Z', cancelled: true, title: null, start: null },
    ]);
    expect((await list(ev.id)).map((i) => i.title)).not.toContain('saturday special');
    const back = await client.events.update.mutate({ eventId: ev.id, rrule: 'FREQ=DAILY;COUNT=7' });
    expect(back.orphaned).toEqual([]);
    expect((await list(ev.id)).map((i) => i.startLocal)).toEqual([
      '2026-06-01T09:00:00', '2026-06-02T09:00:00', '2026-06-03T09:00:00', '2026-06-04T09:00:00', '2026-06-05T09:00:00', '2026-06-06T12:00:00',
    ]);
  });
});

describe('"this and following" with a time change', () => {
  it('the tail carries every later exception, shifted: a cancelled #7 stays cancelled, an edited #8 keeps its title', async () => {
    const ev = await daily('ten', { rrule: 'FREQ=DAILY;COUNT=10' });
    await client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-06-07T13:00:00Z' });
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-08T13:00:00Z', title: 'eighth' });
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-02T13:00:00Z', title: 'second' });
    const tail = await client.events.updateFollowing.mutate({
      eventId: ev.id,
      originalStart: '2026-06-05T13:00:00Z',
      start: '2026-06-05T15:00:00',
      end: '2026-06-05T15:30:00',
    });
    expect(tail.orphaned).toEqual([]);
    const head = await list(ev.id);
    const rest = await list(tail.id);
    expect(head.map((i) => [i.startLocal, i.title])).toEqual([
      ['2026-06-01T09:00:00', 'ten'],
      ['2026-06-02T09:00:00', 'second'],
      ['2026-06-03T09:00:00', 'ten'],
      ['2026-06-04T09:00:00', 'ten'],
    ]);
    expect(rest.map((i) => [i.startLocal, i.title])).toEqual([
      ['2026-06-05T15:00:00', 'ten'],
      ['2026-06-06T15:00:00', 'ten'],
      ['2026-06-08T15:00:00', 'eighth'],
      ['2026-06-09T15:00:00', 'ten'],
      ['2026-06-10T15:00:00', 'ten'],
    ]);
    const ics = (await client.events.ics.query({ eventId: tail.id })).content;
    expect(ics).toMatch(/EXDATE;TZID=America\/New_York:20260607T150000/);
    expect(ics).toMatch(/RECURRENCE-ID;TZID=America\/New_York:20260608T150000/);
  });
});

describe('SEQUENCE (RFC 5545 §3.8.7.4)', () => {
  it('rises on every change of the series or one of its instances', async () => {
    const ev = await daily('seq');
    expect(ev.sequence).toBe(0);
    const s1 = await client.events.update.mutate({ eventId: ev.id, title: 'seq 1' });
    expect(s1.sequence).toBe(1);
    await client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-06-02T13:00:00Z' });
    expect((await client.events.get.query({ eventId: ev.id })).sequence).toBe(2);
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-03T13:00:00Z', title: 'moved' });
    await client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-06-03T13:00:00Z', title: 'moved again' });
    const ics = (await client.events.ics.query({ eventId: ev.id })).content;
    const blocks = ics.split('BEGIN:VEVENT').slice(1);
    const master = blocks.find((b) => !b.includes('RECURRENCE-ID'))!;
    const instance = blocks.find((b) => b.includes('RECURRENCE-ID'))!;
    expect(master).toMatch(/\r\nSEQUENCE:2\r\n/);
    expect(instance).toMatch(/\r\nSEQUENCE:4\r\n/);
    const tail = await client.events.updateFollowing.mutate({ eventId: ev.id, originalStart: '2026-06-04T13:00:00Z', title: 'tail' });
    expect(tail.sequence).toBe(0);
    expect((await client.events.get.query({ eventId: ev.id })).sequence).toBe(3);
  });
});

describe('paging a scope with many series', () => {
  it('small pages (cursor with every series position) list exactly what one large page lists, also across an edit', async () => {
    const scope = (await client.scopes.create.mutate({ kind: 'community', name: 'paging' })).id;
    const made: { id: string }[] = [];
    for (const [i, rrule] of ['FREQ=DAILY;COUNT=12', 'FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=DAILY;INTERVAL=3', 'FREQ=MONTHLY;BYMONTHDAY=2,20', 'FREQ=HOURLY;INTERVAL=7;COUNT=30'].entries()) {
      made.push(await client.events.create.mutate({ scopeId: scope, title: `s${i}`, start: `2026-06-0${i + 1}T0${i + 5}:00:00`, end: `2026-06-0${i + 1}T0${i + 5}:30:00`, timeZone: i % 2 ? 'Europe/Berlin' : 'America/New_York', rrule }));
    }
    await client.events.updateInstance.mutate({ eventId: made[0]!.id, originalStart: '2026-06-03T09:00:00Z', start: '2026-06-20T12:00:00', title: 'moved far' });
    const q = { scopeId: scope, from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-07-15T00:00:00Z') };
    const key = (i: EventInstance) => `${i.eventId}|${i.originalStart}|${i.start}|${i.title}`;
    const whole = (await client.events.instances.query({ ...q, limit: 100 })).items.map(key);
    expect(whole.length).toBeGreaterThan(60);
    const walk = async (limit: number, between?: () => Promise<unknown>) => {
      const out: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; ; n++) {
        const r = await client.events.instances.query({ ...q, limit, cursor });
        out.push(...r.items.map(key));
        if (!r.nextCursor) return out;
        cursor = r.nextCursor;
        if (n === 2) await between?.();
      }
    };
    expect(await walk(7)).toEqual(whole);
    expect(await walk(3)).toEqual(whole);
    // A series edited while paging (its position no longer holds): the rest of the walk follows the new series.
    const edited = await walk(5, () => client.events.update.mutate({ eventId: made[2]!.id, title: 'renamed' }));
    expect(edited.slice(0, 15)).toEqual(whole.slice(0, 15));
    expect(edited.slice(15)).toEqual(whole.slice(15).map((k) => k.replace(/\|s2$/, '|renamed')));
  });
});
