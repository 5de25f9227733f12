import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { codeOf } from '../helpers/errors.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type { GuildhallClient } from '../../sdk/src/index.js';

/*
 * The secret calendar feed (GET /calendar/{token}.ics over real HTTP) and events.importIcs
 * through the SDK, against real PostgreSQL and Redis.
 */

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

const get = (path: string, method = 'GET') => fetch(new URL(path, server.url), { method });
const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };

describe('subscribe by URL', () => {
  it('serves the events of the scopes the user may view, and is rotatable and revocable', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const mine = (await alice.client.scopes.create.mutate({ kind: 'community', name: 'mine' })).id;
    const theirs = (await bob.client.scopes.create.mutate({ kind: 'community', name: 'theirs', visibility: 'private' })).id;
    await alice.client.events.create.mutate({ scopeId: mine, title: 'visible standup', start: '2026-06-01T09:00:00', end: '2026-06-01T09:15:00', timeZone: 'Europe/Berlin', rrule: 'FREQ=DAILY;COUNT=3' });
    await bob.client.events.create.mutate({ scopeId: theirs, title: 'secret meeting', start: '2026-06-01T09:00:00', end: '2026-06-01T10:00:00', timeZone: 'UTC' });

    expect(await alice.client.events.feed.query()).toEqual({ active: false, createdAt: null });
    const feed = await alice.client.events.rotateFeed.mutate();
    expect(feed.path).toMatch(/^\/calendar\/[A-Za-z0-9_-]{43}\.ics$/);
    const res = await get(feed.path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    const body = await res.text();
    expect(body).toContain('SUMMARY:visible standup');
    expect(body).toContain('BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin');
    expect(body).not.toContain('secret meeting');
    expect((await get(feed.path, 'HEAD')).status).toBe(200);
    expect((await get(feed.path, 'POST')).status).toBe(405);
    expect((await alice.client.events.feed.query()).active).toBe(true);

    const rotated = await alice.client.events.rotateFeed.mutate();
    expect(rotated.path).not.toBe(feed.path);
    expect((await get(feed.path)).status).toBe(404);
    expect((await get(rotated.path)).status).toBe(200);

    expect(await alice.client.events.revokeFeed.mutate()).toEqual({ revoked: true });
    expect((await get(rotated.path)).status).toBe(404);
    expect(await alice.client.events.revokeFeed.mutate()).toEqual({ revoked: false });
    expect((await get('/calendar/not-a-token.ics')).status).toBe(404);
  });
});

const ICS = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//test//test//EN',
  'BEGIN:VEVENT',
  'UID:weekly-1@test',
  'DTSTART;TZID=America/New_York:20260302T180000',
  'DTEND;TZID=America/New_York:20260302T190000',
  'RRULE:FREQ=WEEKLY;COUNT=5',
  'EXDATE;TZID=America/New_York:20260309T180000',
  'SUMMARY:book club',
  'LOCATION:library',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:weekly-1@test',
  'RECURRENCE-ID;TZID=America/New_York:20260316T180000',
  'DTSTART;TZID=America/New_York:20260317T200000',
  'DTEND;TZID=America/New_York:20260317T210000',
  'SUMMARY:book club (tuesday)',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:weekly-1@test',
  'RECURRENCE-ID:20260323T220000Z',
  'STATUS:CANCELLED',
  'DTSTART:20260323T220000Z',
  'SUMMARY:book club',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:holiday@test',
  'DTSTART;VALUE=DATE:20260704',
  'SUMMARY:holiday',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:outlook@test',
  'DTSTART;TZID=Eastern Standard Time:20260302T090000',
  'DTEND;TZID=Eastern Standard Time:20260302T100000',
  'SUMMARY:windows zone',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:lonely@test',
  'RECURRENCE-ID:20260401T100000Z',
  'DTSTART:20260401T110000Z',
  'SUMMARY:orphan',
  'END:VEVENT',
  'BEGIN:VTODO',
  'UID:todo@test',
  'SUMMARY:buy milk',
  'END:VTODO',
  'END:VCALENDAR',
  '',
].join('\r\n');

describe('events.importIcs', () => {
  it('creates series with their exceptions and reports what it could not take', async () => {
    const u = await user('importer');
    const scopeId = (await u.client.scopes.create.mutate({ kind: 'community', name: 'imported' })).id;
    const report = await u.client.events.importIcs.mutate({ scopeId, ics: ICS });
    expect(report.created.map((c) => [c.uid, c.title, c.exceptions])).toEqual([
      ['weekly-1@test', 'book club', 2],
      ['holiday@test', 'holiday', 0],
    ]);
    expect(report.skipped).toEqual([
      { uid: 'todo@test', title: 'buy milk', reason: 'VTODO is not an event' },
      { uid: 'outlook@test', title: 'windows zone', reason: expect.stringMatching(/unknown time zone "Eastern Standard Time"/) },
      { uid: 'lonely@test', title: 'orphan', reason: expect.stringMatching(/RECURRENCE-ID without its series/) },
    ]);
    const page = await u.client.events.instances.query({ scopeId, ...window, limit: 100 });
    expect(page.items.map((i) => [i.startLocal, i.title, i.location])).toEqual([
      ['2026-03-02T18:00:00', 'book club', 'library'],
      ['2026-03-17T20:00:00', 'book club (tuesday)', 'library'],
      ['2026-03-30T18:00:00', 'book club', 'library'],
      ['2026-07-04', 'holiday', ''],
    ]);
  });

  it('round-trips an export: the same instances in the new scope', async () => {
    const u = await user('roundtrip');
    const a = (await u.client.scopes.create.mutate({ kind: 'community', name: 'a' })).id;
    const b = (await u.client.scopes.create.mutate({ kind: 'community', name: 'b' })).id;
    const ev = await u.client.events.create.mutate({ scopeId: a, title: 'gym', start: '2026-10-20T07:00:00', end: '2026-10-20T08:00:00', timeZone: 'Europe/London', rrule: 'FREQ=DAILY;COUNT=10', rdates: ['2026-11-15T12:00:00'] });
    await u.client.events.cancelInstance.mutate({ eventId: ev.id, originalStart: '2026-10-22T06:00:00Z' });
    await u.client.events.updateInstance.mutate({ eventId: ev.id, originalStart: '2026-10-27T07:00:00Z', title: 'gym (late)', start: '2026-10-27T19:00:00' });
    await u.client.events.create.mutate({ scopeId: a, title: 'trip', start: '2026-12-24', end: '2026-12-27', allDay: true, timeZone: 'Europe/London' });
    const ics = (await u.client.events.ics.query({ scopeId: a })).content;
    const report = await u.client.events.importIcs.mutate({ scopeId: b, ics });
    expect(report.skipped).toEqual([]);
    const shape = async (scopeId: string) =>
      (await u.client.events.instances.query({ scopeId, ...window, limit: 100 })).items.map((i) => [i.start, i.end, i.title, i.allDay]);
    expect(await shape(b)).toEqual(await shape(a));
  });

  it('refuses what is too large or not iCalendar, and changes nothing', async () => {
    const u = await user('limits');
    const scopeId = (await u.client.scopes.create.mutate({ kind: 'community', name: 'limits' })).id;
    expect(await codeOf(u.client.events.importIcs.mutate({ scopeId, ics: 'hello' }))).toBe('BAD_REQUEST');
    const huge = ICS.replace('SUMMARY:holiday', `SUMMARY:${'x'.repeat(600 * 1024)}`);
    expect(await codeOf(u.client.events.importIcs.mutate({ scopeId, ics: huge }))).toBe('PAYLOAD_TOO_LARGE');
    expect((await u.client.events.instances.query({ scopeId, ...window, limit: 10 })).items).toEqual([]);
  });

  it('refuses a caller who may not create events there as a whole: FORBIDDEN, not a report of skips', async () => {
    const owner = await user('import-owner');
    const outsider = await user('import-outsider');
    const scopeId = (await owner.client.scopes.create.mutate({ kind: 'community', name: 'not yours' })).id;
    expect(await codeOf(outsider.client.events.importIcs.mutate({ scopeId, ics: ICS }))).toBe('FORBIDDEN');
    expect((await owner.client.events.instances.query({ scopeId, ...window, limit: 10 })).items).toEqual([]);
  });
});
