import { and, asc, eq, gt, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { calendarEvents, eventOverrides, scopes } from '../db/schema/index.js';
import { limits } from '../config.js';
import { forbidden, notFound } from '../errors.js';
import type { Tx } from '../messages/log.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { EventRow, OverrideRow } from './expansion.js';
import { rowsOf } from '../audit/actor.js';
import { listableKey, SeriesCache, type Listable } from './series-cache.js';

/*
 * The reads every part of the events domain shares: which series a user may see or
 * change, the series lock, and overrides by series. They sit below the event, RSVP,
 * reminder and iCalendar modules, so those depend on this one and never on each other.
 */

/** Access-checked reads of series. */
export class EventReads {
  /** Series rows and overrides of recent listings, by their scopes' calendar versions (see series-cache.ts). */
  private readonly cache = new SeriesCache();

  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
  ) {}

  /** The series when the caller may view its scope. @throws NotFound (also for a hidden scope), Forbidden (no View). */
  async visible(userId: string, eventId: string): Promise<EventRow> {
    const [row] = await this.db.select().from(calendarEvents).where(eq(calendarEvents.id, eventId));
    if (!row) throw notFound(`event ${eventId} not found`);
    try {
      await this.access.require(userId, row.scopeId, Permission.View);
    } catch (err) {
      if (err instanceof Error && (err as { code?: string }).code === 'NotFound') throw notFound(`event ${eventId} not found`);
      throw err;
    }
    return row;
  }

  /** The series when the caller created it or holds ManageEvents. @throws NotFound, Forbidden. */
  async manageable(userId: string, eventId: string): Promise<EventRow> {
    const row = await this.visible(userId, eventId);
    if (row.createdBy === userId) return row;
    if (!(await this.access.allows(userId, row.scopeId, Permission.ManageEvents))) {
      throw forbidden('only its creator or someone with the ManageEvents permission may change this event');
    }
    return row;
  }

  /**
   * Series of the viewable scopes in `scopeId`'s subtree that may overlap `[fromMs, toMs)`,
   * earliest first, at most `eventSeriesPerListingMax`, with their overrides, for a
   * listing page: one query reads the subtree's live scopes with their calendar
   * versions, the caller's access is checked per scope (the permission cache's own
   * probe), and the rows and overrides come from the in-process cache while those
   * versions stand (two more queries when they do not).
   * `version` names the versions and window, for the listing's cursor.
   * @throws NotFound, Forbidden (no View on `scopeId`), as `AccessService.require`.
   */
  async listable(userId: string, scopeId: string, fromMs: number, toMs: number): Promise<Listable> {
    // The scope's own check runs beside the subtree's query (two connections, one round trip of waiting).
    const [subtree, own] = await Promise.all([this.subtree(scopeId), this.access.allows(userId, scopeId, Permission.View)]);
    // The scope itself not viewable (or not there): the same error as every other check.
    if (!own) await this.access.require(userId, scopeId, Permission.View);
    const viewable = await this.viewableOf(userId, subtree, scopeId);
    const version = listableKey(viewable, fromMs, toMs);
    const hit = this.cache.get(version);
    if (hit) return hit;
    const rows = await this.seriesIn(viewable.map((s) => s.id), fromMs, toMs);
    const value = { rows, overrides: await overridesOf(this.db, rows.map((r) => r.id)), version };
    this.cache.set(value);
    return value;
  }

  /** Series of the given scopes that may overlap the window (no access check; callers filter scopes). */
  async seriesIn(scopeIds: string[], fromMs?: number, toMs?: number): Promise<EventRow[]> {
    if (scopeIds.length === 0) return [];
    let window;
    if (fromMs !== undefined && toMs !== undefined) {
      const from = new Date(fromMs);
      const to = new Date(toMs);
      window = or(
        and(lt(calendarEvents.firstStart, to), or(isNull(calendarEvents.lastEnd), gt(calendarEvents.lastEnd, from))),
        sql`exists (select 1 from ${eventOverrides} o where o.event_id = ${calendarEvents.id} and o.start_at < ${to} and o.end_at >= ${from})`,
      );
    }
    return this.db
      .select()
      .from(calendarEvents)
      .where(and(inArray(calendarEvents.scopeId, scopeIds), window))
      .orderBy(asc(calendarEvents.firstStart), asc(calendarEvents.id))
      .limit(limits.eventSeriesPerListingMax);
  }

  /** `scopeId` and the live scopes below it that the caller may view. */
  async viewableSubtree(userId: string, scopeId: string): Promise<string[]> {
    return (await this.viewableOf(userId, await this.subtree(scopeId))).map((s) => s.id);
  }

  /** `scopeId` and the live scopes below it, each with its calendar version (drizzle/0042; 0 before any event). */
  private subtree(scopeId: string): Promise<{ id: string; version: string }[]> {
    return rowsOf<{ id: string; version: string }>(
      this.db,
      sql`select s.id, coalesce(v.version, 0)::text as version from ${scopes} s left join calendar_versions v on v.scope_id = s.id
          where (s.id = ${scopeId} or s.path @> array[${scopeId}]::uuid[]) and s.deleted_at is null`,
    );
  }

  /** The scopes of `rows` the caller may view, in order; `checked` is one already known viewable. */
  private async viewableOf<S extends { id: string }>(userId: string, rows: S[], checked?: string): Promise<S[]> {
    const allowed = await Promise.all(rows.map(async (s) => (s.id === checked || (await this.access.allows(userId, s.id, Permission.View)) ? s : null)));
    return allowed.filter((x): x is Awaited<S> => x !== null);
  }
}

/** Locks the series row (serializes RSVPs, overrides and splits of one event). @throws NotFound. */
export async function lockEvent(tx: Tx, eventId: string): Promise<EventRow> {
  const [row] = await tx.select().from(calendarEvents).where(eq(calendarEvents.id, eventId)).for('update');
  if (!row) throw notFound(`event ${eventId} not found`);
  return row;
}

/** Overrides of the given series, grouped by series. */
export async function overridesOf(db: Db | Tx, ids: string[]): Promise<Map<string, OverrideRow[]>> {
  const out = new Map<string, OverrideRow[]>();
  if (ids.length === 0) return out;
  const rows = await db.select().from(eventOverrides).where(inArray(eventOverrides.eventId, ids));
  for (const r of rows) out.set(r.eventId, [...(out.get(r.eventId) ?? []), r]);
  return out;
}
