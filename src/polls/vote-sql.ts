import type { Db } from '../db/client.js';
import { queryPrepared } from '../db/prepared.js';
import type { pollOptions, polls } from '../db/schema/index.js';

type PollRow = typeof polls.$inferSelect;
type OptionRow = typeof pollOptions.$inferSelect;

/** What `poll_cast_vote` (drizzle/0048) answers; see there for each status. */
export type VoteStatus = 'missing' | 'stale' | 'count' | 'stranger' | 'closed' | 'final' | 'locked' | 'same' | 'changed';

/** The outcome of one call: the status, and (unless missing or stale) the poll, its options and the voter's choices after it. */
export interface VoteOutcome {
  status: VoteStatus;
  /** For 'stranger': the option id that is not the poll's. */
  detail: string | null;
  poll: PollRow | null;
  options: OptionRow[];
  mine: string[];
}

const VOTE_TEXT = 'select status, detail, poll, options, mine from poll_cast_vote($1::uuid, $2::text, $3::boolean, $4::uuid[])';

/**
 * A row from row_to_json (snake_case keys, times as text) as drizzle would give it:
 * camelCase keys, `dates` as Date (null stays null). Bigints arrive as JSON numbers.
 */
function rowOf<T>(j: Record<string, unknown>, dates: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  for (const d of dates) out[d] = out[d] === null || out[d] === undefined ? null : new Date(out[d] as string);
  return out as T;
}

const POLL_DATES = ['closesAt', 'closedAt', 'createdAt'] as const;

/**
 * A vote (`optionIds`) or, with null, a retraction, in one statement and one round trip:
 * `poll_cast_vote` locks the poll row, checks, deletes and inserts the voter's rows (the
 * triggers of drizzle/0035 enforce every rule on those statements) and returns the poll as
 * it is then. The poll's row lock is held for that one call. `voter` is the column value
 * (voter-key.ts); `anonymous` the kind of value the caller computed.
 * @throws the database's refusals (the triggers' constraint names), for carriedWriteError.
 */
export async function castVote(db: Db, pollId: string, voter: string, anonymous: boolean, optionIds: readonly string[] | null): Promise<VoteOutcome> {
  const [row] = await queryPrepared<{
    status: VoteStatus;
    detail: string | null;
    poll: Record<string, unknown> | null;
    options: Record<string, unknown>[] | null;
    mine: string[] | null;
  }>(db, 'guildhall_polls_vote', VOTE_TEXT, [pollId, voter, anonymous, optionIds]);
  if (!row) return { status: 'missing', detail: null, poll: null, options: [], mine: [] };
  return {
    status: row.status,
    detail: row.detail,
    poll: row.poll ? rowOf<PollRow>(row.poll, POLL_DATES) : null,
    options: (row.options ?? []).map((o) => rowOf<OptionRow>(o, [])),
    mine: row.mine ?? [],
  };
}

const APPEND_TEXT =
  'select status, retry_ms, seq, created_at from result_event_append($1::text, $2::uuid, $3::uuid, $4::bigint, $5::integer, $6::text, $7::jsonb)';

/** What `result_event_append` (drizzle/0048) did; see there. */
export type AppendOutcome = { status: 'sent'; seq: number; createdAt: Date } | { status: 'gone' | 'covered' } | { status: 'later'; retryMs: number };

/**
 * The write of one coalesced live-results event in one round trip: scope lock, the
 * open-and-present check after it, the conditional move of the mark, the event.
 */
export async function appendResultEvent(
  db: Db,
  e: { kind: 'poll' | 'survey'; targetId: string; scopeId: string; version: number; intervalMs: number; type: string; payload: Record<string, unknown> },
): Promise<AppendOutcome> {
  const [row] = await queryPrepared<{ status: AppendOutcome['status']; retry_ms: number | null; seq: string | number | null; created_at: Date | string | null }>(db, 'guildhall_results_append', APPEND_TEXT, [
    e.kind,
    e.targetId,
    e.scopeId,
    e.version,
    Math.round(e.intervalMs),
    e.type,
    JSON.stringify(e.payload),
  ]);
  if (!row || row.status === 'gone' || row.status === 'covered') return { status: row?.status === 'covered' ? 'covered' : 'gone' };
  if (row.status === 'later') return { status: 'later', retryMs: row.retry_ms ?? e.intervalMs };
  return { status: 'sent', seq: Number(row.seq), createdAt: new Date(row.created_at!) };
}
