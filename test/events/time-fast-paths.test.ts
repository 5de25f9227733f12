import { describe, expect, it } from 'vitest';
import { Temporal } from 'temporal-polyfill';
import { instantOfWall, isoSeconds, offsetMsAt, wallAt, wallFromMs, wallMs, zonedAt, zonedFromWallClock } from '../../src/events/recurrence/time.js';

/*
 * The engine's fast paths for what every listed instance needs (its zone's offset, its
 * times written out) must answer exactly as Temporal and Date do: at and around every
 * transition, in zones with odd offsets and rules, far in the past and future.
 */

/** 0001-01-01T00:00:00Z (Date.UTC reads years 0–99 as 1900–1999). */
const YEAR_1 = Date.parse('0001-01-01T00:00:00Z');
const ZONES = ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Apia', 'America/St_Johns', 'Africa/Casablanca', 'Europe/Dublin', 'UTC', 'Asia/Tokyo', 'America/Sao_Paulo', 'Antarctica/Troll'];

describe('offsetMsAt', () => {
  it('equals Temporal offsetNanoseconds at, just before and just after every transition 1900–2100, and between them', () => {
    for (const tz of ZONES) {
      let zdt: Temporal.ZonedDateTime | null = Temporal.Instant.from('1900-01-01T00:00:00Z').toZonedDateTimeISO(tz);
      let checked = 0;
      while (zdt && zdt.year < 2100) {
        const t = zdt.epochMilliseconds;
        for (const ms of [t - 86_400_000, t - 3_600_001, t - 1, t, t + 1, t + 1800_000, t + 86_400_000]) {
          expect(offsetMsAt(tz, ms), `${tz} ${new Date(ms).toISOString()}`).toBe(zonedAt(ms, tz).offsetNanoseconds / 1e6);
          checked++;
        }
        zdt = zdt.getTimeZoneTransition('next');
      }
      expect(checked).toBeGreaterThan(0);
    }
  });

  it('equals Temporal at random instants from year 1 to 9999, asked in any order', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const lo = YEAR_1;
    const hi = Date.UTC(9999, 11, 31);
    for (let k = 0; k < 3000; k++) {
      const tz = ZONES[k % ZONES.length]!;
      const ms = Math.floor(lo + rnd() * (hi - lo));
      expect(offsetMsAt(tz, ms)).toBe(zonedAt(ms, tz).offsetNanoseconds / 1e6);
    }
  });
});

describe('instantOfWall', () => {
  it('reads a wall-clock time as zonedFromWallClock does (gap: shifted forward; fold: the earlier), around every transition 1900–2100', () => {
    for (const tz of ZONES) {
      let zdt: Temporal.ZonedDateTime | null = Temporal.Instant.from('1900-01-01T00:00:00Z').toZonedDateTimeISO(tz);
      while (zdt && zdt.year < 2100) {
        // Wall-clock times on both sides of the transition, inside its gap or fold, and a day away.
        const before = wallMs(wallAt(zdt.epochMilliseconds - 1, tz)) + 1;
        const after = wallMs(wallAt(zdt.epochMilliseconds, tz));
        for (const base of [before, after]) {
          for (const d of [-86_400_000, -3_600_000, -1_800_000, -60_000, -1000, 0, 1000, 60_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 86_400_000]) {
            const wall = base + d;
            expect(instantOfWall(tz, wall), `${tz} ${wallFromMs(wall).toString()}`).toBe(zonedFromWallClock(wallFromMs(wall), tz).epochMilliseconds);
          }
        }
        zdt = zdt.getTimeZoneTransition('next');
      }
    }
  });

  it('agrees with zonedFromWallClock at random wall-clock times from year 1 to 9999', () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 3000; k++) {
      const tz = ZONES[k % ZONES.length]!;
      const wall = Math.floor((YEAR_1 + 2 * 86_400_000 + rnd() * (Date.UTC(9999, 11, 29) - YEAR_1)) / 1000) * 1000;
      expect(instantOfWall(tz, wall), `${tz} ${wallFromMs(wall).toString()}`).toBe(zonedFromWallClock(wallFromMs(wall), tz).epochMilliseconds);
    }
  });
});

describe('isoSeconds', () => {
  it('writes what Date#toISOString writes, to the second, from year 1 to 9999 and around leap days', () => {
    const cases = [0, -1, -999, -1000, -1001, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, YEAR_1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(1600, 1, 29, 12), Date.UTC(1900, 1, 28, 23, 59, 59), Date.UTC(2100, 2, 1)];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 20_000; k++) cases.push(Math.floor(YEAR_1 + rnd() * (Date.UTC(9999, 11, 31) - YEAR_1)));
    for (const ms of cases) {
      const d = new Date(ms);
      const expected = d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999 ? d.toISOString().slice(0, 19) : null;
      if (expected) expect(isoSeconds(ms), String(ms)).toBe(expected);
    }
  });
});
