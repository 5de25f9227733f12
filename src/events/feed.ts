import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { calendarFeeds, memberships, scopes } from '../db/schema/index.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import { buildIcs } from './ics.js';
import { overridesOf, type EventReads } from './reads.js';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** The shape of a feed token: 32 random bytes, base64url (43 characters). */
export const FEED_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** `events.rotateFeed`: the new secret URL path (relative to the server's origin). */
export interface CalendarFeed {
  /** `/calendar/{token}.ics`: give it to Google Calendar ("From URL") or Apple Calendar ("New Calendar Subscription"). */
  path: string;
  createdAt: Date;
}

/**
 * Secret calendar feeds, as Google Calendar's "secret address in iCal format": each user
 * may hold one URL that serves, without sign-in, an iCalendar document of the events in
 * every scope they are a member of and may view (checked on every fetch, so leaving a
 * scope or losing View removes its events from the next poll). The token is shown once,
 * when made; only its SHA-256 is stored. Rotating makes a new URL and kills the old one;
 * revoking kills it.
 */
export class CalendarFeedService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly reads: EventReads,
  ) {}

  /** Makes (or replaces) the caller's feed URL. The old URL stops working at once. */
  async rotate(userId: string): Promise<CalendarFeed> {
    const token = randomBytes(32).toString('base64url');
    const [row] = await this.db
      .insert(calendarFeeds)
      .values({ userId, tokenHash: hash(token) })
      .onConflictDoUpdate({ target: calendarFeeds.userId, set: { tokenHash: hash(token), createdAt: new Date() } })
      .returning();
    return { path: `/calendar/${token}.ics`, createdAt: row!.createdAt };
  }

  /** Revokes the caller's feed URL. @returns whether there was one. */
  async revoke(userId: string): Promise<{ revoked: boolean }> {
    const rows = await this.db.delete(calendarFeeds).where(eq(calendarFeeds.userId, userId)).returning();
    return { revoked: rows.length > 0 };
  }

  /** Whether the caller has a feed, and since when (the URL itself cannot be shown again). */
  async status(userId: string): Promise<{ active: boolean; createdAt: Date | null }> {
    const [row] = await this.db.select().from(calendarFeeds).where(eq(calendarFeeds.userId, userId));
    return { active: row !== undefined, createdAt: row?.createdAt ?? null };
  }

  /** The iCalendar document behind a token, or null for an unknown or revoked one. */
  async render(token: string): Promise<string | null> {
    if (!FEED_TOKEN.test(token)) return null;
    const [feed] = await this.db.select().from(calendarFeeds).where(eq(calendarFeeds.tokenHash, hash(token)));
    if (!feed) return null;
    const member = await this.db
      .select({ id: scopes.id })
      .from(memberships)
      .innerJoin(scopes, eq(scopes.id, memberships.scopeId))
      .where(and(eq(memberships.userId, feed.userId), isNull(scopes.deletedAt)));
    const allowed = await Promise.all(member.map(async (m) => ((await this.access.allows(feed.userId, m.id, Permission.View)) ? m.id : null)));
    const rows = await this.reads.seriesIn(allowed.filter((x): x is string => x !== null));
    return buildIcs('Guildhall', rows, await overridesOf(this.db, rows.map((r) => r.id)));
  }
}
