import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { codeOf } from '../helpers/errors.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { collect } from '../helpers/subscribe.js';
import { loadRecurrenceVectors } from '../helpers/vectors.js';
import type { GuildhallServer } from '../../src/server.js';
import type { EventInstance, GuildhallClient, ScopeStreamEvent } from '../../sdk/src/index.js';

/*
 * The events API end to end: SDK over HTTP (and WebSocket for the scope stream) against
 * real PostgreSQL and Redis.
 */

const vectors = loadRecurrenceVectors();
/**
 * Vectors events.create refuses with BAD_REQUEST: a rule whose set is empty (the engine
 * expands it to nothing and terminates, recurrence.vectors.test.ts) would be a series that
 * never shows, so saving it is refused (saving.ts checkHasInstance).
 */
const REFUSED = new Set<string>(vectors.filter((v) => v.expected.length === 0 && !v.rdate?.length).map((v) => v.name));

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
});
afterAll(async () => {
  for (const c of cleanup) c();
  await server?.close(100);
  await db?.drop();
});

async function user(name: string) {
  const u = await signUpClient(server.url, name);
  cleanup.push(() => closeClient(u.client));
  return u;
}

/** Every instance of one event in a window, following the cursor with pages of `limit`. */
async function allInstances(client: GuildhallClient, q: { eventId?: string; scopeId?: string; from: Date; to: Date }, limit = 100) {
  const out: EventInstance[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await client.events.instances.query({ ...q, limit, cursor });
    out.push(...r.items);
    if (!r.nextCursor) return out;
    cursor = r.nextCursor;
  }
  throw new Error('too many pages');
}

const basicToExtended = (s: string) =>
  s.length === 8 ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}` : `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}`;

describe('RFC 5545 vectors through events.create and events.instances over HTTP', () => {
  let owner: Awaited<ReturnType<typeof user>>;
  let scopeId: string;
  beforeAll(async () => {
    owner = await user('owner');
    scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'vectors' })).id;
  });

  it('covers all 57 vectors', () => expect(vectors).toHaveLength(57));

  for (const v of vectors) {
    it(v.name, async () => {
      const start = v.dtstart.includes('-') ? v.dtstart : basicToExtended(v.dtstart);
      const create = owner.client.events.create.mutate({
        scopeId,
        title: v.name,
        start,
        ...(v.allDay ? { allDay: true } : { end: start }), // zero-length: the windows test starts only
        timeZone: v.tzid ?? 'UTC',
        rrule: v.rrule,
        exdates: v.exdate ?? null,
        rdates: v.rdate ?? null,
      });
      if (REFUSED.has(v.name)) {
        expect(await codeOf(create)).toBe('BAD_REQUEST');
        return;
      }
      const ev = await create;
      const inst = (s: string) => new Date(v.allDay ? `${s}T00:00:00Z` : s);
      const from = v.window ? inst(v.window.start) : new Date('1900-01-01T00:00:00Z');
      const end = v.window ? inst(v.window.end) : new Date('2200-01-01T00:00:00Z');
      const to = v.window?.inclusive ? new Date(end.getTime() + 1) : end;
      const got = await allInstances(owner.client, { eventId: ev.id, from, to }, 40);
      expect(got.map((i) => (v.allDay ? i.startLocal : i.start))).toEqual(v.expected);
    });
  }
});

describe('series, overrides and splits', () => {
  let owner: Awaited<ReturnType<typeof user>>;
  let scopeId: string;
  beforeAll(async () => {
    owner = await user('owner');
    scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'cal' })).id;
  });
  const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };

  it('lists a short sub-daily series (FREQ=SECONDLY with COUNT or UNTIL) in a window of months, and reports no failure', async () => {
    // The listing rewrites COUNT as the equivalent UNTIL; the walk past UNTIL once charged two days of periods
    // (172,800 for SECONDLY), over the 20,000 budget: `failed` for any window over about 5.5 h.
    const scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'cal seconds' })).id;
    const byCount = await owner.client.events.create.mutate({ scopeId, title: 'countdown', start: '2026-06-01T09:00:00', end: '2026-06-01T09:00:01', timeZone: 'America/New_York', rrule: 'FREQ=SECONDLY;COUNT=5' });
    const byUntil = await owner.client.events.create.mutate({ scopeId, title: 'countdown 2', start: '2026-06-01T09:00:00', end: '2026-06-01T09:00:01', timeZone: 'America/New_York', rrule: 'FREQ=SECONDLY;UNTIL=20260601T130009Z' });
    for (const [ev, n] of [[byCount, 5], [byUntil, 10]] as const) {
      const page = await owner.client.events.instances.query({ eventId: ev.id, ...window });
      expect(page.failed).toEqual([]);
      expect(page.items.map((i) => i.start)).toEqual(Array.from({ length: n }, (_, k) => `2026-06-01T09:00:0${k}-04:00`));
    }
  });

  it('keeps overrides across series edits, moving them with the series', async () => {
    const stream = collect<ScopeStreamEvent>((h) => owner.client.messages.onEvent.subscribe({ scopeId, lastEventId: '0' }, h));
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'standup',
      start: '2026-03-02T09:00:00',
      end: '2026-03-02T09:15:00',
      timeZone: 'Europe/Berlin',
      rrule: 'FREQ=DAILY;COUNT=5',
    });
    const moved = await owner.client.events.updateInstance.mutate({
      eventId: ev.id,
      originalStart: '2026-03-03T08:00:00Z',
      start: '2026-03-03T11:00:00',
      title: 'late standup',
    });
    expect(moved).toMatchObject({ start: '2026-03-03T11:00:00+01:00', end: '2026-03-03T11:15:00+01:00', title: 'late standup', overridden: true });
    await owner.client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-03-04T08:00:00Z' });
    // Edit the series: new title and COUNT; the overrides stay.
    await owner.client.events.update.mutate({ eventId: ev.id, title: 'daily', rrule: 'FREQ=DAILY;COUNT=4' });
    let list = await allInstances(owner.client, { eventId: ev.id, ...window });
    expect(list.map((i) => [i.start, i.title])).toEqual([
      ['2026-03-02T09:00:00+01:00', 'daily'],
      ['2026-03-03T11:00:00+01:00', 'late standup'],
      ['2026-03-05T09:00:00+01:00', 'daily'],
    ]);
    // Moving the series to 10:00 moves the exceptions with it: the cancel stays, the moved one keeps its own 11:00.
    const edit = await owner.client.events.update.mutate({ eventId: ev.id, start: '2026-03-02T10:00:00' });
    expect(edit.orphaned).toEqual([]);
    list = await allInstances(owner.client, { eventId: ev.id, ...window });
    expect(list.map((i) => [i.start, i.title])).toEqual([
      ['2026-03-02T10:00:00+01:00', 'daily'],
      ['2026-03-03T11:00:00+01:00', 'late standup'],
      ['2026-03-05T10:00:00+01:00', 'daily'],
    ]);
    expect(list[1]).toMatchObject({ originalStart: '2026-03-03T09:00:00Z', overridden: true });
    await owner.client.events.update.mutate({ eventId: ev.id, start: '2026-03-02T09:00:00' });
    list = await allInstances(owner.client, { eventId: ev.id, ...window });
    expect(list.map((i) => i.title)).toEqual(['daily', 'late standup', 'daily']);
    const types = (await stream.until(6)).map((e) => e.type);
    expect(types).toEqual(['event.created', 'event.instance_updated', 'event.instance_cancelled', 'event.updated', 'event.updated', 'event.updated']);
    expect(stream.items[0]).toMatchObject({ eventId: ev.id, title: 'standup', actorId: owner.userId });
    stream.stop();
  });

  it('splits "this and following" on a COUNT rule: COUNT recomputed, overrides move, parent linked', async () => {
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'weekly',
      start: '2026-03-02T18:00:00',
      end: '2026-03-02T19:00:00',
      timeZone: 'America/New_York',
      rrule: 'FREQ=WEEKLY;COUNT=6',
    });
    await owner.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-03-30T22:00:00Z', title: 'special' });
    await owner.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-03-02T23:00:00Z', title: 'first' });
    const tail = await owner.client.events.updateFollowing.mutate({ eventId: ev.id, originalStart: '2026-03-23T22:00:00Z', title: 'weekly v2' });
    expect(tail).toMatchObject({ parentId: ev.id, start: '2026-03-23T18:00:00', rrule: 'FREQ=WEEKLY;COUNT=3', title: 'weekly v2' });
    expect((await owner.client.events.get.query({ eventId: ev.id })).rrule).toBe('FREQ=WEEKLY;COUNT=3');
    const head = await allInstances(owner.client, { eventId: ev.id, ...window });
    expect(head.map((i) => [i.startLocal, i.title])).toEqual([
      ['2026-03-02T18:00:00', 'first'],
      ['2026-03-09T18:00:00', 'weekly'],
      ['2026-03-16T18:00:00', 'weekly'],
    ]);
    const rest = await allInstances(owner.client, { eventId: tail.id, ...window });
    expect(rest.map((i) => [i.startLocal, i.title])).toEqual([
      ['2026-03-23T18:00:00', 'weekly v2'],
      ['2026-03-30T18:00:00', 'special'],
      ['2026-04-06T18:00:00', 'weekly v2'],
    ]);
  });

  it('splits "this and following" on an UNTIL rule, with a new time for the rest', async () => {
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'gym',
      start: '2026-10-20T07:00:00',
      end: '2026-10-20T08:00:00',
      timeZone: 'Europe/London',
      rrule: 'FREQ=DAILY;UNTIL=20261030T235959Z',
    });
    const tail = await owner.client.events.updateFollowing.mutate({
      eventId: ev.id,
      originalStart: '2026-10-26T07:00:00Z', // after the change to GMT
      start: '2026-10-26T08:00:00',
      end: '2026-10-26T09:00:00',
    });
    expect((await owner.client.events.get.query({ eventId: ev.id })).rrule).toBe('FREQ=DAILY;UNTIL=20261026T065959Z');
    const all = await allInstances(owner.client, { scopeId, from: new Date('2026-10-20T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') });
    const mine = all.filter((i) => i.eventId === ev.id || i.eventId === tail.id);
    expect(mine.map((i) => i.startLocal)).toEqual([
      '2026-10-20T07:00:00', '2026-10-21T07:00:00', '2026-10-22T07:00:00', '2026-10-23T07:00:00', '2026-10-24T07:00:00', '2026-10-25T07:00:00',
      '2026-10-26T08:00:00', '2026-10-27T08:00:00', '2026-10-28T08:00:00', '2026-10-29T08:00:00', '2026-10-30T08:00:00',
    ]);
  });

  it('lists all-day series by date, across DST, and moves an all-day instance', async () => {
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'holiday',
      start: '2026-03-27',
      end: '2026-03-29',
      allDay: true,
      timeZone: 'Europe/Berlin',
      rrule: 'FREQ=WEEKLY;COUNT=3',
    });
    await owner.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-04-03', start: '2026-04-04' });
    const list = await allInstances(owner.client, { eventId: ev.id, ...window });
    expect(list.map((i) => [i.originalStart, i.startLocal, i.endLocal, i.start])).toEqual([
      ['2026-03-27', '2026-03-27', '2026-03-29', '2026-03-27T00:00:00+01:00'],
      ['2026-04-03', '2026-04-04', '2026-04-06', '2026-04-04T00:00:00+02:00'],
      ['2026-04-10', '2026-04-10', '2026-04-12', '2026-04-10T00:00:00+02:00'],
    ]);
    const ics = await owner.client.events.ics.query({ eventId: ev.id });
    expect(ics.content).toContain('DTSTART;VALUE=DATE:20260327');
    expect(ics.content).toContain('RECURRENCE-ID;VALUE=DATE:20260403');
  });

  it('shows the same instants to a viewer in another zone, wall-clock in the event zone', async () => {
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'tokyo sync',
      start: '2026-03-07T09:00:00',
      end: '2026-03-07T10:00:00',
      timeZone: 'America/New_York',
      rrule: 'FREQ=DAILY;COUNT=3',
    });
    const viewer = await user('viewer');
    await viewer.client.members.join.mutate({ scopeId });
    // The viewer asks with a window written in Tokyo time.
    const list = await allInstances(viewer.client, { eventId: ev.id, from: new Date('2026-03-07T00:00:00+09:00'), to: new Date('2026-03-12T00:00:00+09:00') });
    expect(list.map((i) => i.start)).toEqual(['2026-03-07T09:00:00-05:00', '2026-03-08T09:00:00-04:00', '2026-03-09T09:00:00-04:00']);
    expect(list.map((i) => new Date(i.start).toISOString())).toEqual(['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z']);
    expect(list.every((i) => i.timeZone === 'America/New_York' && i.startLocal.endsWith('T09:00:00'))).toBe(true);
  });

  it('exports iCalendar with RRULE, EXDATE, RDATE and RECURRENCE-ID', async () => {
    const ev = await owner.client.events.create.mutate({
      scopeId,
      title: 'book club',
      start: '2026-05-04T19:00:00',
      end: '2026-05-04T20:30:00',
      timeZone: 'Europe/Paris',
      rrule: 'FREQ=MONTHLY;BYDAY=1MO;COUNT=6',
      exdates: ['2026-06-01T19:00:00'],
      rdates: ['2026-05-20T19:00:00'],
    });
    await owner.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-07-06T17:00:00Z', start: '2026-07-07T19:00:00' });
    await owner.client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-08-03T17:00:00Z' });
    const { content, filename } = await owner.client.events.ics.query({ eventId: ev.id });
    expect(filename).toBe('book-club.ics');
    // RFC 5545 §3.1: every content line ends with CRLF, the last one included.
    expect(content.endsWith('END:VCALENDAR\r\n')).toBe(true);
    const lines = content.split('\r\n');
    expect(lines).toContain('DTSTART;TZID=Europe/Paris:20260504T190000');
    expect(lines).toContain('DTEND;TZID=Europe/Paris:20260504T203000');
    expect(lines).toContain('RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=1MO');
    expect(lines).toContain('EXDATE;TZID=Europe/Paris:20260601T190000,20260803T190000');
    expect(lines).toContain('RDATE;TZID=Europe/Paris:20260520T190000');
    expect(lines).toContain('RECURRENCE-ID;TZID=Europe/Paris:20260706T190000');
    expect(lines).toContain('DTSTART;TZID=Europe/Paris:20260707T190000');
    expect(lines.filter((l) => l === `UID:${ev.id}@guildhall`)).toHaveLength(2);
  });
});

describe('events.instances page size', () => {
  it('defaults limit to 250 (Google Calendar\'s maxResults) over the SDK and REST, and keeps the cap of 2,500', async () => {
    const owner = await user('pages');
    const scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'pages' })).id;
    await owner.client.events.create.mutate({ scopeId, title: 'daily', start: '2026-01-01T09:00:00', end: '2026-01-01T09:30:00', timeZone: 'UTC', rrule: 'FREQ=DAILY' });
    const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2028-01-01T00:00:00Z') };
    const first = await owner.client.events.instances.query({ scopeId, ...window });
    expect(first.items).toHaveLength(250);
    expect(first.nextCursor).toEqual(expect.any(String));
    const rest = await fetch(`${server.url}/api/events/instances?scopeId=${scopeId}&from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z`, {
      headers: { authorization: `Bearer ${owner.token}` },
    });
    const page = (await rest.json()) as { items: unknown[]; nextCursor: string | null };
    expect([rest.status, page.items.length, typeof page.nextCursor]).toEqual([200, 250, 'string']);
    expect((await owner.client.events.instances.query({ scopeId, ...window, limit: 2_500 })).items).toHaveLength(730);
    expect(await codeOf(owner.client.events.instances.query({ scopeId, ...window, limit: 2_501 }))).toBe('BAD_REQUEST');
  });
});

describe('permissions', () => {
  it('needs CreateEvents to create, creator or ManageEvents to change, View to read', async () => {
    const owner = await user('owner');
    const member = await user('member');
    const outsider = await user('outsider');
    const c = await owner.client.scopes.create.mutate({ kind: 'community', name: 'perm' });
    await member.client.members.join.mutate({ scopeId: c.id });
    const ev = await owner.client.events.create.mutate({ scopeId: c.id, title: 't', start: '2026-01-01T10:00:00', end: '2026-01-01T11:00:00', timeZone: 'UTC' });
    expect(await codeOf(member.client.events.update.mutate({ eventId: ev.id, title: 'mine' }))).toBe('FORBIDDEN');
    expect(await codeOf(member.client.events.delete.mutate({ eventId: ev.id }))).toBe('FORBIDDEN');
    expect((await member.client.events.get.query({ eventId: ev.id })).title).toBe('t');
    expect(await codeOf(outsider.client.events.create.mutate({ scopeId: c.id, title: 'x', start: '2026-01-01T10:00:00', end: '2026-01-01T11:00:00', timeZone: 'UTC' }))).toMatch(/FORBIDDEN|NOT_FOUND/);
    expect((await owner.client.events.delete.mutate({ eventId: ev.id })).deleted).toBe(true);
    expect(await codeOf(owner.client.events.get.query({ eventId: ev.id }))).toBe('NOT_FOUND');
  });
});

describe('RSVP with capacity', () => {
  it('seats exactly `capacity` of 20 concurrent RSVPs, waitlists the rest, promotes on withdraw', async () => {
    const owner = await user('owner');
    const c = await owner.client.scopes.create.mutate({ kind: 'community', name: 'rsvp' });
    const ev = await owner.client.events.create.mutate({
      scopeId: c.id,
      title: 'dinner',
      start: '2026-06-01T19:00:00',
      end: '2026-06-01T22:00:00',
      timeZone: 'Europe/Rome',
      capacity: 5,
    });
    const guests = await Promise.all(Array.from({ length: 20 }, (_, i) => user(`g${i}`)));
    await Promise.all(guests.map((g) => g.client.members.join.mutate({ scopeId: c.id })));
    const answers = await Promise.all(guests.map((g) => g.client.events.rsvp.mutate({ eventId: ev.id, status: 'going' })));
    expect(answers.filter((a) => a?.status === 'going')).toHaveLength(5);
    expect(answers.filter((a) => a?.status === 'waitlisted')).toHaveLength(15);
    let att = await owner.client.events.attendees.query({ eventId: ev.id });
    expect(att.counts).toEqual({ going: 5, waitlisted: 15, maybe: 0, declined: 0 });
    const firstWaiting = att.items.find((r) => r.status === 'waitlisted')!.userId;
    const leaver = guests.find((g) => g.userId === att.items[0]!.userId)!;
    const promotedStream = collect((h) => guests.find((g) => g.userId === firstWaiting)!.client.me.onEvent.subscribe({ lastEventId: '0' }, h));
    await leaver.client.events.rsvp.mutate({ eventId: ev.id, status: 'declined' });
    att = await owner.client.events.attendees.query({ eventId: ev.id });
    expect(att.counts).toEqual({ going: 5, waitlisted: 14, maybe: 0, declined: 1 });
    expect(att.items.find((r) => r.userId === firstWaiting)!.status).toBe('going');
    const seen = await promotedStream.until(2); // membership.changed, then rsvp.promoted
    expect(seen.at(-1)).toMatchObject({ type: 'rsvp.promoted', eventId: ev.id, instanceStart: '' });
    promotedStream.stop();
  });

  it('answers per instance independently of the series', async () => {
    const owner = await user('owner');
    const c = await owner.client.scopes.create.mutate({ kind: 'community', name: 'rsvp2' });
    const ev = await owner.client.events.create.mutate({
      scopeId: c.id, title: 'run', start: '2026-06-01T07:00:00', end: '2026-06-01T08:00:00', timeZone: 'UTC', rrule: 'FREQ=DAILY;COUNT=3', capacity: 1,
    });
    expect(await owner.client.events.rsvp.mutate({ eventId: ev.id, instanceStart: '2026-06-02T07:00:00Z', status: 'going' })).toMatchObject({ status: 'going', instanceStart: '2026-06-02T07:00:00Z' });
    expect(await owner.client.events.rsvp.mutate({ eventId: ev.id, status: 'maybe' })).toMatchObject({ status: 'maybe', instanceStart: null });
    expect(await codeOf(owner.client.events.rsvp.mutate({ eventId: ev.id, instanceStart: '2026-06-02T08:00:00Z', status: 'going' }))).toBe('NOT_FOUND');
    expect((await owner.client.events.attendees.query({ eventId: ev.id, instanceStart: '2026-06-02T07:00:00Z' })).counts.going).toBe(1);
  });
});

describe('bad input', () => {
  let owner: Awaited<ReturnType<typeof user>>;
  let scopeId: string;
  beforeAll(async () => {
    owner = await user('owner');
    scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'bad' })).id;
  });
  const base = { title: 'x', start: '2026-01-05T09:00:00', end: '2026-01-05T10:00:00', timeZone: 'Europe/Berlin' };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unknown time zone', { timeZone: 'Mars/Olympus_Mons' }, /time zone|tzid/i],
    ['INTERVAL=0', { rrule: 'FREQ=DAILY;INTERVAL=0' }, /INTERVAL/],
    ['negative INTERVAL', { rrule: 'FREQ=DAILY;INTERVAL=-2' }, /INTERVAL/],
    ['fractional INTERVAL', { rrule: 'FREQ=DAILY;INTERVAL=1.5' }, /INTERVAL/],
    ['COUNT over the limit', { rrule: 'FREQ=DAILY;COUNT=100000' }, /COUNT/],
    ['a 100 KB RRULE', { rrule: `FREQ=DAILY;BYHOUR=${'1,'.repeat(50_000)}1` }, /rrule/i],
    ['FREQ=SECONDLY without an end', { rrule: 'FREQ=SECONDLY' }, /SECONDLY/],
    ['end before start', { end: '2026-01-05T08:00:00' }, /before start/],
  ];
  it('refuses an unknown time zone on update and on this-and-following with BAD_REQUEST, changing nothing', async () => {
    const ev = await owner.client.events.create.mutate({ scopeId, ...base, rrule: 'FREQ=DAILY;COUNT=3' });
    for (const call of [
      () => owner.client.events.update.mutate({ eventId: ev.id, timeZone: 'Nowhere/X' }),
      () => owner.client.events.updateFollowing.mutate({ eventId: ev.id, originalStart: '2026-01-06T08:00:00Z', timeZone: 'Nowhere/X' }),
    ]) {
      const err = await call().then(() => null, (e: unknown) => e as { message: string; data?: { code?: string } });
      expect(err?.data?.code).toBe('BAD_REQUEST');
      expect(err?.message).toMatch(/unknown time zone/);
    }
    expect(await owner.client.events.get.query({ eventId: ev.id })).toMatchObject({ timeZone: 'Europe/Berlin', rrule: 'FREQ=DAILY;COUNT=3' });
    await owner.client.events.delete.mutate({ eventId: ev.id });
  });

  for (const [name, patch, message] of cases) {
    it(`refuses ${name} with BAD_REQUEST, quickly, changing nothing`, async () => {
      const t0 = Date.now();
      const err = await owner.client.events.create.mutate({ scopeId, ...base, ...patch } as never).then(
        () => null,
        (e: unknown) => e as { message: string; data?: { code?: string } },
      );
      expect(err?.data?.code).toBe('BAD_REQUEST');
      expect(err?.message).toMatch(message);
      expect(Date.now() - t0).toBeLessThan(2_000);
      const list = await owner.client.events.instances.query({ scopeId, from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z'), limit: 10 });
      expect(list.items).toEqual([]);
    });
  }
});
