/**
 * Listing speed of `events.instances` against the baseline of expanding the same rules
 * with rrule-temporal directly, in one process, merged and sorted; and series creation
 * time, BYWEEKNO rules apart.
 *
 * - A fresh PostgreSQL database (BENCH_PG_URL, an admin connection; default
 *   postgres://postgres@127.0.0.1:5432/test) and the real server (`createServer`, embedded
 *   bus and cache) on 127.0.0.1, port 0; the SDK over HTTP as the client.
 * - 200 recurring series in one community (daily, weekdays, weekly, monthly by day and by
 *   weekday, yearly; COUNT and open-ended; six zones), one year's window.
 * - ours: the first page of 100 (median of --runs), and the full cursor walk in pages of 100.
 * - baseline: rrule-temporal on the same 200 rules (DTSTART in the zone, its own tzid
 *   handling): the first 100 of each rule merged and sorted, cut to 100 (first page); every
 *   instance in the window merged and sorted (full walk).
 * - also, after each full walk: the same walk through the events service in this process
 *   (what the listing costs without the transport), in pages of 100 and of 2,500; what the
 *   transport does with the 2,500-pages, step by step (the output check, superjson and
 *   JSON.stringify as the server does, JSON.parse and superjson as the SDK does); and the
 *   transport's floor (as many scopes.get calls over HTTP as the walk had pages).
 *
 *   npx tsx bench/calendar.ts [--runs 5] [--series 200]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import superjson, { type SuperJSONResult } from 'superjson';
import { RRuleTemporal } from 'rrule-temporal';
import { Temporal } from 'temporal-polyfill';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { InstancePageOutput } from '../src/events/outputs.js';
import { createClient, closeClient } from '../sdk/src/index.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, series: { type: 'string', default: '200' } } });
const RUNS = Number(args.runs);
const SERIES = Number(args.series);
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const FROM = new Date('2026-01-01T00:00:00Z');
const TO = new Date('2027-01-01T00:00:00Z');

const ZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'UTC', 'America/Los_Angeles'];
const RULES = [
  'FREQ=DAILY',
  'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
  'FREQ=WEEKLY;BYDAY=TU,TH;COUNT=80',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO',
  'FREQ=MONTHLY;BYMONTHDAY=15',
  'FREQ=MONTHLY;BYDAY=1MO,3MO',
  'FREQ=DAILY;COUNT=200',
  'FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=1',
  'FREQ=DAILY;INTERVAL=3',
  'FREQ=WEEKLY;BYDAY=SA,SU;COUNT=60',
];

interface Spec { start: string; tz: string; rrule: string }

function specs(n: number): Spec[] {
  return Array.from({ length: n }, (_, i) => {
    const day = 1 + (i % 28);
    const hour = 6 + (i % 13);
    return { start: `2026-01-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:${i % 2 ? '30' : '00'}:00`, tz: ZONES[i % ZONES.length]!, rrule: RULES[i % RULES.length]! };
  });
}

/** rrule-temporal on one rule: up to `limit` instances in the window (epoch ms). */
function baselineRule(s: Spec, limit: number | null): number[] {
  const dtstart = Temporal.PlainDateTime.from(s.start).toZonedDateTime(s.tz);
  const count = /COUNT=(\d+)/.exec(s.rrule)?.[1];
  const parts = Object.fromEntries(s.rrule.split(';').map((p) => p.split('=') as [string, string]));
  const rule = new RRuleTemporal({
    freq: parts.FREQ as 'DAILY',
    interval: parts.INTERVAL ? Number(parts.INTERVAL) : 1,
    ...(parts.BYDAY ? { byDay: parts.BYDAY.split(',') } : {}),
    ...(parts.BYMONTHDAY ? { byMonthDay: parts.BYMONTHDAY.split(',').map(Number) } : {}),
    ...(parts.BYMONTH ? { byMonth: parts.BYMONTH.split(',').map(Number) } : {}),
    ...(limit !== null ? { count: Math.min(limit, count ? Number(count) : limit) } : count ? { count: Number(count) } : { until: Temporal.Instant.fromEpochMilliseconds(TO.getTime()).toZonedDateTimeISO(s.tz) }),
    dtstart,
    tzid: s.tz,
  });
  return rule.all().map((z) => z.epochMilliseconds).filter((ms) => ms >= FROM.getTime() && ms < TO.getTime());
}

function baseline(all: Spec[], limit: number | null): number {
  const merged = all.flatMap((s) => baselineRule(s, limit)).sort((a, b) => a - b);
  return limit === null ? merged.length : merged.slice(0, limit).length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time<T>(f: () => T): [number, T] {
  const t = performance.now();
  const r = f();
  return [performance.now() - t, r];
}

async function main() {
  const name = `gh_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const dbUrl = new URL(ADMIN);
  dbUrl.pathname = `/${name}`;
  const server = await createServer({ ...loadConfig({}), port: 0, host: '127.0.0.1', databaseUrl: dbUrl.toString(), redisUrl: undefined }, pino({ level: 'silent' }));
  try {
    const anon = createClient({ url: server.url });
    const { token, user } = await anon.auth.signUp.mutate({ email: `bench-${name}@example.com`, password: 'correct horse battery', displayName: 'bench' });
    closeClient(anon);
    const client = createClient({ url: server.url, token });
    const scopeId = (await client.scopes.create.mutate({ kind: 'community', name: 'bench' })).id;
    const all = specs(SERIES);
    const createMs: number[] = [];
    for (const s of all) {
      const end = Temporal.PlainDateTime.from(s.start).add({ minutes: 45 }).toString();
      const t = performance.now();
      await client.events.create.mutate({ scopeId, title: s.rrule, start: s.start, end, timeZone: s.tz, rrule: s.rrule });
      createMs.push(performance.now() - t);
    }
    const weekNoScope = (await client.scopes.create.mutate({ kind: 'community', name: 'byweekno' })).id;
    const weekNoMs: number[] = [];
    for (const rrule of ['FREQ=YEARLY;BYWEEKNO=1,20,40;BYDAY=MO', 'FREQ=YEARLY;BYWEEKNO=-1;COUNT=10', 'FREQ=YEARLY;BYWEEKNO=10,11,12;BYDAY=MO,WE,FR;COUNT=100', 'FREQ=YEARLY;BYWEEKNO=52,53;BYDAY=SA,SU']) {
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        await client.events.create.mutate({ scopeId: weekNoScope, title: rrule, start: '2026-01-05T09:00:00', end: '2026-01-05T10:00:00', timeZone: 'Europe/Berlin', rrule });
        weekNoMs.push(performance.now() - t);
      }
    }

    const page = (cursor?: string, limit = 100) => client.events.instances.query({ scopeId, from: FROM, to: TO, limit, cursor });
    await page(); // warm the connection and the process (JIT, caches), as a running server would be
    const firstOurs: number[] = [];
    const firstBase: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      await page();
      firstOurs.push(performance.now() - t);
      firstBase.push(time(() => baseline(all, 100))[0]);
    }
    const walkOurs: number[] = [];
    const walkBase: number[] = [];
    const walkInProcess: number[] = [];
    const walkInProcessBig: number[] = [];
    const output: { zod: number[]; serialize: number[]; stringify: number[]; parse: number[]; deserialize: number[]; inPlace: number[] } = { zod: [], serialize: [], stringify: [], parse: [], deserialize: [], inPlace: [] };
    let bytes = 0;
    const walkBig: number[] = [];
    let bigPages = 0;
    const floor: number[] = [];
    let count = 0;
    let baseCount = 0;
    for (let r = 0; r < Math.max(1, Math.ceil(RUNS / 2)); r++) {
      const t = performance.now();
      let cursor: string | undefined;
      let n = 0;
      let pages = 0;
      for (;;) {
        const p = await page(cursor);
        n += p.items.length;
        pages++;
        if (!p.nextCursor) break;
        cursor = p.nextCursor;
      }
      walkOurs.push(performance.now() - t);
      count = n;
      const [ms, c] = time(() => baseline(all, null));
      walkBase.push(ms);
      baseCount = c;
      if (r === 0) console.log(`full walk: ${n} instances in ${pages} pages (baseline ${c})`);
      // The same walk in pages of 2,500 (the largest page, Google Calendar's maxResults cap).
      const t4 = performance.now();
      let bigCursor: string | undefined;
      bigPages = 0;
      for (;;) {
        const p = await page(bigCursor, 2_500);
        bigPages++;
        if (!p.nextCursor) break;
        bigCursor = p.nextCursor;
      }
      walkBig.push(performance.now() - t4);
      // The same walk through the events service in this process (no HTTP, tRPC or JSON): what the listing itself costs.
      const t2 = performance.now();
      let inCursor: string | undefined;
      for (;;) {
        const p = await server.services.events.instances(user.id, { scopeId, from: FROM, to: TO, limit: 100, cursor: inCursor });
        if (!p.nextCursor) break;
        inCursor = p.nextCursor;
      }
      walkInProcess.push(performance.now() - t2);
      // The same walk in pages of 2,500 through the service, then what the transport does with those pages, step by step:
      // the output check (zod), superjson and JSON.stringify on the server, JSON.parse and superjson on the client.
      const t5 = performance.now();
      const bigPagesIn: Awaited<ReturnType<typeof server.services.events.instances>>[] = [];
      for (let c: string | undefined; ; ) {
        const p = await server.services.events.instances(user.id, { scopeId, from: FROM, to: TO, limit: 2_500, cursor: c });
        bigPagesIn.push(p);
        if (!p.nextCursor) break;
        c = p.nextCursor;
      }
      walkInProcessBig.push(performance.now() - t5);
      const step = <T,>(into: number[], f: () => T): T => {
        const [ms, v] = time(f);
        into.push(ms);
        return v;
      };
      const checked = step(output.zod, () => bigPagesIn.map((p) => InstancePageOutput.parse(p)));
      const sj = step(output.serialize, () => checked.map((p) => superjson.serialize(p)));
      const texts = step(output.stringify, () => sj.map((p) => JSON.stringify({ result: { data: p } })));
      bytes = texts.reduce((n, x) => n + Buffer.byteLength(x), 0);
      const parsed = step(output.parse, () => texts.map((x) => (JSON.parse(x) as { result: { data: SuperJSONResult } }).result.data));
      step(output.deserialize, () => parsed.map((p) => superjson.deserialize(p)));
      // What the SDK's step would cost reading in place (the parsed JSON is its own; superjson copies it first otherwise).
      step(output.inPlace, () => parsed.map((p) => superjson.deserialize(p, { inPlace: true })));
      // The transport's floor: as many calls of a trivial procedure (scopes.get) as the walk made pages.
      const t3 = performance.now();
      for (let k = 0; k < pages; k++) await client.scopes.get.query({ scopeId });
      floor.push(performance.now() - t3);
    }
    closeClient(client);
    const f = (x: number) => x.toFixed(1);
    console.log(`series: ${SERIES}, window ${FROM.toISOString().slice(0, 10)} .. ${TO.toISOString().slice(0, 10)}, instances: ours ${count}, baseline ${baseCount}`);
    console.log(`first page of 100: ours ${f(median(firstOurs))} ms, baseline ${f(median(firstBase))} ms, ratio ${(median(firstOurs) / median(firstBase)).toFixed(2)} (target <= 2)`);
    console.log(`full walk:         ours ${f(median(walkOurs))} ms, baseline ${f(median(walkBase))} ms, ratio ${(median(walkOurs) / median(walkBase)).toFixed(2)} (target <= 3)`);
    console.log(`  pages of 2500:   ours ${f(median(walkBig))} ms in ${bigPages} pages, ratio ${(median(walkBig) / median(walkBase)).toFixed(2)} (target <= 3)`);
    console.log(`  in process:      ours ${f(median(walkInProcess))} ms (the same walk through the events service, no HTTP), ratio ${(median(walkInProcess) / median(walkBase)).toFixed(2)}`);
    console.log(`  in process 2500: ours ${f(median(walkInProcessBig))} ms (pages of 2500 through the service), ratio ${(median(walkInProcessBig) / median(walkBase)).toFixed(2)}`);
    const o = output;
    console.log(
      `  output of those: zod ${f(median(o.zod))} ms, superjson ${f(median(o.serialize))} ms, stringify ${f(median(o.stringify))} ms | client: parse ${f(median(o.parse))} ms, superjson ${f(median(o.deserialize))} ms (in place: ${f(median(o.inPlace))} ms); ${(bytes / 1e6).toFixed(1)} MB`,
    );
    console.log(`  HTTP floor:      ${f(median(floor))} ms (as many scopes.get calls as pages), ratio ${(median(floor) / median(walkBase)).toFixed(2)}`);
    console.log(`create a series:   median ${f(median(createMs))} ms, max ${f(Math.max(...createMs))} ms (${createMs.length} series)`);
    console.log(`create BYWEEKNO:   median ${f(median(weekNoMs))} ms, max ${f(Math.max(...weekNoMs))} ms (${weekNoMs.length} series)`);
  } finally {
    await server.close(100);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
