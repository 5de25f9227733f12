import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { polls, surveys } from '../db/schema/index.js';
import { limits } from '../config.js';
import { AppError, conflict, invalid } from '../errors.js';
import { pgConstraint, pgErrorCode } from '../db/client.js';
import type { Tx } from '../messages/log.js';

/**
 * Open polls or surveys (`table`) whose tally is ahead of their last live-results event,
 * and whose last event is at least `ms` old (or never sent): what the sweep flushes.
 * At most `limits.pollCloseBatch` ids. Both tables share these column names.
 */
export async function resultsBehind(db: Db, table: typeof polls | typeof surveys, ms: number): Promise<string[]> {
  const result = (await db.execute(sql`
    select t.id from ${table} t left join result_event_marks m on m.target_id = t.id
    where t.closed_at is null and t.tally_version > coalesce(m.event_version, 0)
      and (m.event_at is null or m.event_at < clock_timestamp() - make_interval(secs => ${ms / 1000}))
    limit ${limits.pollCloseBatch}`)) as unknown as { rows: { id: string }[] };
  return result.rows.map((r) => r.id);
}

/** Polls or surveys (`table`) whose closesAt has passed and that are not closed yet, earliest first (at most `limits.pollCloseBatch`). */
export async function dueToClose(db: Db, table: typeof polls | typeof surveys): Promise<string[]> {
  const result = (await db.execute(sql`
    select id from ${table} where closed_at is null and closes_at <= now()
    order by closes_at limit ${limits.pollCloseBatch}`)) as unknown as { rows: { id: string }[] };
  return result.rows.map((r) => r.id);
}

const REFUSALS: Record<string, () => AppError> = {
  poll_votes_poll_open: () => conflict('this poll is closed'),
  poll_votes_max_choices: () => conflict('you voted at the same moment from somewhere else; your vote is the one already counted'),
  poll_votes_poll_id_voter_option_id_pk: () => conflict('you voted at the same moment from somewhere else; your vote is the one already counted'),
  poll_votes_option_fk: () => invalid('that is not an option of this poll'),
  poll_options_settled: () => conflict('options can be added only until the first vote'),
  poll_options_max: () => conflict('a poll holds at most 20 options'),
  poll_options_position_key: () => conflict('another option was added at the same moment; try again'),
  polls_settled: () => conflict('this poll has votes: its question and options cannot change'),
  survey_responses_survey_open: () => conflict('this survey is closed'),
  survey_responses_final: () => conflict('you already responded, and this survey does not allow changing a response'),
  survey_responses_pkey: () => conflict('you responded at the same moment from somewhere else; that response is the one kept'),
  survey_responses_survey_id_respondent_pk: () => conflict('you responded at the same moment from somewhere else; that response is the one kept'),
};

/**
 * Maps a refusal of the poll and survey triggers or keys to the domain error a person can
 * act on; anything else (and AppErrors) is returned as is. The database's own message is
 * never passed on: its detail can hold key values (a voter hash).
 */
export function carriedWriteError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = pgErrorCode(err);
  if (code === '23514' || code === '23505' || code === '23503') {
    const make = REFUSALS[pgConstraint(err) ?? ''];
    if (make) return make();
  }
  return err;
}
