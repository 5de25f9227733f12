import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { readMarks, readStates } from '../db/schema/index.js';
import { invalid } from '../errors.js';
import type { ScopeService } from '../scopes/service.js';
import type { ReadState } from './types.js';

export type { ReadState };

type Row = typeof readStates.$inferSelect;
const toReadState = (r: Row): ReadState => ({
  scopeId: r.scopeId,
  lastReadSeq: r.lastReadSeq,
  unreadCount: r.unreadCount,
  mentionCount: r.mentionCount,
  updatedAt: r.updatedAt,
});

/**
 * Read state per member and scope. A row exists exactly while the membership does
 * (trigger). Counts come from the scope's counters and the member's read mark (O(1) writes
 * per message; docs/architecture.md "Read state and unread counts").
 */
export class ReadStateService {
  constructor(
    private readonly db: Db,
    private readonly scopes: ScopeService,
  ) {}

  /**
   * Marks the scope read up to `seq` (an event seq: the `seq` of the last event or message
   * the user has seen). Monotonic: a seq below the current mark changes nothing (the
   * database enforces it too). The caller must be a member.
   * @returns the read state after the mark.
   * @throws NotFound for an unknown scope; Invalid for a seq past the scope's last seq.
   */
  async mark(userId: string, scopeId: string, seq: number): Promise<ReadState> {
    const scope = await this.scopes.get(scopeId);
    if (seq > scope.lastSeq) throw invalid(`seq ${seq} is past this conversation's latest seq ${scope.lastSeq}`);
    const moved = await this.db
      .update(readMarks)
      .set({ lastReadSeq: seq })
      .where(and(eq(readMarks.scopeId, scopeId), eq(readMarks.userId, userId)))
      .returning({ scopeId: readMarks.scopeId });
    if (moved.length > 0) {
      // A statement of its own: the counts are derived from the mark as committed above.
      const [row] = await this.unreadFor(userId, [scopeId]);
      if (!row) throw invalid('you are no longer a member of this scope');
      return row;
    }
    // A membership always has its row (trigger); this is a member of a scope migrated
    // from before read states, or a race with leaving.
    const [inserted] = await this.db
      .insert(readMarks)
      .values({ scopeId, userId, lastReadSeq: 0 })
      .onConflictDoNothing()
      .returning();
    if (!inserted) throw invalid('you are no longer a member of this scope');
    return this.mark(userId, scopeId, seq);
  }

  /**
   * The read states of `userId` in `scopeIds` (scopes where the user is not a member are
   * left out), in scope id order. For `scopes.tree` and the user stream.
   */
  async unreadFor(userId: string, scopeIds: readonly string[]): Promise<ReadState[]> {
    if (scopeIds.length === 0) return [];
    const rows = await this.db
      .select()
      .from(readStates)
      .where(and(eq(readStates.userId, userId), inArray(readStates.scopeId, [...scopeIds])))
      .orderBy(asc(readStates.scopeId));
    return rows.map(toReadState);
  }

  /** Every read state of `userId` (one per membership), in scope id order. */
  async list(userId: string): Promise<ReadState[]> {
    const rows = await this.db.select().from(readStates).where(eq(readStates.userId, userId)).orderBy(asc(readStates.scopeId));
    return rows.map(toReadState);
  }
}
