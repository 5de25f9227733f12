import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type { GuildhallClient } from '../../sdk/src/index.js';

/*
 * Every exported .ics, read back by an independent parser (ical.js) and expanded over
 * the test window, yields the same instants, titles and cancellations as
 * events.instances: series with overrides, EXDATEs, RDATEs, splits, all-day events and
 * instances in a DST gap, in several zones.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let client: GuildhallClient;
let scopeId: string;
const cleanup: (() => void)[] = [];
const from = new Date('2026-01-01T00:00:00Z');
const to = new Date('2027-06-01T00:00:00Z');

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  const u = await signUpClient(server.url, 'owner');
  cleanup.push(() => closeClient(u.client));
  client = u.client;
  scopeId = (await client.scopes.create.mutate({ kind: 'community', name: 'round trip' })).id;
});
afterAll(async () => {
  for (const c of cleanup) c();
  await server?.close(100);
  await db?.drop();
});

/** [UID, start, end, title]: instants as UTC ISO text, all-day dates as dates (floating in iCalendar, §3.3.4). */
type Row = [eventUid: string, start: string, end: string, title: string];

/** What events.instances lists over the window, as rows keyed by the exported UID. */
async function listed(q: { scopeId?: string; eventId?: string }): Promise<Row[]> {
  const out: Row[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await client.events.instances.query({ ...q, from, to, limit: 100, cursor });
    expect(page.failed).toEqual([]);
    for (const i of page.items) {
      const at = (v: string, local: string) => (i.allDay ? local : new Date(v).toISOString());
      out.push([`${i.eventId}@guildhall`, at(i.start, i.startLocal), at(i.end, i.endLocal), i.title]);
    }
    if (!page.nextCursor) return out.sort(order);
    cursor = page.nextCursor;
  }
}

const order = (a: Row, b: Row) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]);

/** ical.js's reading of an .ics: every occurrence overlapping the window, exceptions applied. */
function parsed(text: string): Row[] {
  const cal = new ICAL.Component(ICAL.parse(text));
  const zones = cal.getAllSubcomponents('vtimezone');
  for (const z of zones) ICAL.TimezoneService.register(z);
  const groups = new Map<string, ICAL.Component[]>();
  for (const v of cal.getAllSubcomponents('vevent')) {
    const uid = String(v.getFirstPropertyValue('uid'));
    groups.set(uid, [...(groups.get(uid) ?? []), v]);
  }
  const out: Row[] = [];
  const keep = (uid: string, s: ICAL.Time, e: ICAL.Time, title: string) => {
    // All-day dates are compared as dates; the window is wide enough that none sits at its edge.
    const sm = s.toJSDate().getTime();
    const em = e.toJSDate().getTime();
    const shown = (t: ICAL.Time) => (t.isDate ? t.toString() : t.toJSDate().toISOString());
    if (sm < to.getTime() && (em > from.getTime() || (sm === em && sm >= from.getTime()))) out.push([uid, shown(s), shown(e), title]);
  };
  for (const [uid, comps] of groups) {
    const master = new ICAL.Event(comps.find((c) => !c.hasProperty('recurrence-id'))!);
    for (const c of comps.filter((c) => c.hasProperty('recurrence-id'))) master.relateException(new ICAL.Event(c));
    if (!master.isRecurring()) {
      keep(uid, master.startDate, master.endDate, master.summary);
      continue;
    }
    const it = master.iterator();
    const stop = to.getTime() + 40 * 86_400_000;
    for (let next = it.next(); next && next.toJSDate().getTime() < stop; next = it.next()) {
      const d = master.getOccurrenceDetails(next);
      keep(uid, d.startDate, d.endDate, String(d.item.summary));
    }
  }
  for (const z of zones) ICAL.TimezoneService.remove(String(z.getFirstPropertyValue('tzid')));
  return out.sort(order);
}

describe('exported .ics read by ical.js', () => {
  let ids: string[] = [];

  beforeAll(async () => {
    const mk = (f: Parameters<typeof client.events.create.mutate>[0]) => client.events.create.mutate(f).then((e) => (ids.push(e.id), e));
    // Weekly across both DST changes, with an override (moved and retitled), a cancel, an EXDATE and an RDATE.
    const weekly = await mk({
      scopeId, title: 'weekly', start: '2026-02-02T18:00:00', end: '2026-02-02T19:00:00', timeZone: 'America/New_York',
      rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=20', exdates: ['2026-03-09T18:00:00'], rdates: ['2026-03-11T12:00:00'],
    });
    await client.events.updateInstance.mutate({ eventId: weekly.id, originalStart: '2026-03-16T22:00:00Z', start: '2026-03-17T08:00:00', title: 'moved' });
    await client.events.cancelInstance.mutate({ eventId: weekly.id, originalStart: '2026-03-23T22:00:00Z' });
    // Daily at 02:30 through New York's spring-forward night: 8 March is 03:30 EDT.
    await mk({ scopeId, title: 'gap', start: '2026-03-06T02:30:00', end: '2026-03-06T02:45:00', timeZone: 'America/New_York', rrule: 'FREQ=DAILY;COUNT=5' });
    // A split with a new time, exceptions on both sides, in Berlin.
    const split = await mk({ scopeId, title: 'split', start: '2026-10-19T07:00:00', end: '2026-10-19T08:00:00', timeZone: 'Europe/Berlin', rrule: 'FREQ=DAILY;COUNT=14' });
    await client.events.cancelInstance.mutate({ eventId: split.id, originalStart: '2026-10-21T05:00:00Z' });
    await client.events.updateInstance.mutate({ eventId: split.id, originalStart: '2026-10-28T06:00:00Z', title: 'edited after' });
    const tail = await client.events.updateFollowing.mutate({ eventId: split.id, originalStart: '2026-10-26T06:00:00Z', start: '2026-10-26T09:00:00', end: '2026-10-26T10:00:00', title: 'split v2' });
    ids.push(tail.id);
    // All-day: a yearly holiday with an EXDATE, and a monthly all-day with a moved instance, in Tokyo.
    await mk({ scopeId, title: 'holiday', start: '2026-05-01', allDay: true, timeZone: 'Europe/Paris', rrule: 'FREQ=YEARLY;COUNT=3' });
    const monthly = await mk({ scopeId, title: 'month end', start: '2026-01-31', end: '2026-02-01', allDay: true, timeZone: 'Asia/Tokyo', rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=12', exdates: ['2026-04-30'] });
    await client.events.updateInstance.mutate({ eventId: monthly.id, originalStart: '2026-06-30', start: '2026-06-29', title: 'early' });
    // One-time events: timed in UTC, and Sydney.
    await mk({ scopeId, title: 'utc once', start: '2026-07-01T12:00:00', end: '2026-07-01T13:00:00', timeZone: 'UTC' });
    await mk({ scopeId, title: 'sydney', start: '2026-03-29T09:00:00', end: '2026-03-29T10:00:00', timeZone: 'Australia/Sydney', rrule: 'FREQ=WEEKLY;COUNT=4' });
    // A series whose first instance (DTSTART) and a cancelled one fall in gaps: Berlin skips 02:00–03:00 on 29 March 2026.
    const berlinGap = await mk({ scopeId, title: 'berlin gap', start: '2026-03-29T02:15:00', end: '2026-03-29T02:45:00', timeZone: 'Europe/Berlin', rrule: 'FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=3' });
    await client.events.cancelInstance.mutate({ eventId: berlinGap.id, originalStart: '2027-03-28T01:15:00Z' }); // 28 March 2027 is a gap day too
    // A one-time event in a gap.
    await mk({ scopeId, title: 'gap once', start: '2026-03-08T02:30:00', end: '2026-03-08T03:00:00', timeZone: 'America/New_York' });
  });

  it('has a VTIMEZONE for every TZID it uses', async () => {
    const text = (await client.events.ics.query({ scopeId })).content;
    const used = new Set([...text.matchAll(/;TZID=([^:;]+)[:;]/g)].map((m) => m[1]));
    const defined = new Set([...text.matchAll(/^TZID:(.+)\r$/gm)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(2);
    expect([...used].filter((z) => !defined.has(z))).toEqual([]);
  });

  it('the scope export expands to what events.instances lists', async () => {
    const text = (await client.events.ics.query({ scopeId })).content;
    const mine = await listed({ scopeId });
    expect(mine.length).toBeGreaterThan(50);
    expect(parsed(text)).toEqual(mine);
  });

  it('so does every single-event export', async () => {
    for (const id of ids) {
      const text = (await client.events.ics.query({ eventId: id })).content;
      expect(parsed(text), id).toEqual(await listed({ eventId: id }));
    }
  });
});
