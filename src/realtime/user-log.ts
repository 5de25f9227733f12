import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { userEvents, userStreams } from '../db/schema/index.js';
import type { UserEvent } from './user-events.js';

/** The user's log events with seq > `after`, oldest first, at most `limit`. */
export async function userEventsAfter(db: Db, userId: string, after: number, limit: number): Promise<UserEvent[]> {
  const rows = await db
    .select()
    .from(userEvents)
    .where(and(eq(userEvents.userId, userId), gt(userEvents.seq, after)))
    .orderBy(asc(userEvents.seq))
    .limit(limit);
  return rows.map((r) => ({ ...(r.payload as object), type: r.type, seq: r.seq, at: r.createdAt }) as UserEvent);
}

/** The last seq of each user's log (0 for a user with none), in one query. */
export async function latestUserSeqs(db: Db, userIds: string[]): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.select().from(userStreams).where(inArray(userStreams.userId, userIds));
  const out = new Map(userIds.map((id) => [id, 0]));
  for (const r of rows) out.set(r.userId, r.lastSeq);
  return out;
}
