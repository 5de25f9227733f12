import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, rawPool } from '../helpers/db.js';

// The poll and survey triggers (drizzle/0035_poll_survey_triggers.sql), written to with
// raw SQL the way any other code path could.
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: { message: string; code: string; constraint?: string }) => e);

async function user(): Promise<string> {
  const { rows } = await pool.query(`insert into users (email, display_name, password_hash) values ($1, 'u', 'x') returning id`, [
    `u-${Math.random()}@example.com`,
  ]);
  return rows[0].id;
}

let scopeId: string;
let author: string;

async function message(): Promise<string> {
  const { rows } = await pool.query(
    `with e as (insert into scope_events (scope_id, seq, type, actor_id) values ($1, 0, 'message.created', $2) returning seq)
     insert into messages (id, scope_id, seq, author_id, body) select gen_random_uuid(), $1, e.seq, $2, 'poll' from e returning id`,
    [scopeId, author],
  );
  return rows[0].id;
}

/** A poll with `n` options; returns its id and option ids. */
async function poll(o: { maxChoices?: number; anonymous?: boolean; closesAt?: string | null; n?: number } = {}) {
  const messageId = await message();
  const { rows } = await pool.query(
    `insert into polls (scope_id, message_id, created_by, question, min_choices, max_choices, anonymous, closes_at)
     values ($1, $2, $3, 'Q?', 1, $4, $5, $6) returning id`,
    [scopeId, messageId, author, o.maxChoices ?? 1, o.anonymous ?? false, o.closesAt ?? null],
  );
  const id = rows[0].id as string;
  const options: string[] = [];
  for (let i = 0; i < (o.n ?? 3); i++) {
    const r = await pool.query(`insert into poll_options (poll_id, position, text) values ($1, $2, $3) returning id`, [id, i, `opt ${i}`]);
    options.push(r.rows[0].id);
  }
  return { id, messageId, options };
}

const vote = (pollId: string, optionId: string, voter: string) =>
  pool.query(`insert into poll_votes (poll_id, option_id, voter, voted_at) values ($1, $2, $3, now())`, [pollId, optionId, voter]);

async function tally(pollId: string) {
  const p = await pool.query(`select voter_count, tally_version from polls where id = $1`, [pollId]);
  const o = await pool.query(`select vote_count from poll_options where poll_id = $1 order by position`, [pollId]);
  return { voters: p.rows[0].voter_count as number, version: Number(p.rows[0].tally_version), counts: o.rows.map((r) => r.vote_count as number) };
}

beforeAll(async () => {
  author = await user();
  const { rows } = await pool.query(`insert into scopes (kind, name) values ('community', 'polls') returning id`);
  scopeId = rows[0].id;
});

describe('poll vote triggers', () => {
  it('keep the tallies on insert and delete', async () => {
    const p = await poll({ maxChoices: 2 });
    const [a, b] = [await user(), await user()];
    await vote(p.id, p.options[0]!, a);
    await vote(p.id, p.options[1]!, a);
    await vote(p.id, p.options[1]!, b);
    expect(await tally(p.id)).toEqual({ voters: 2, version: 3, counts: [1, 2, 0] });
    await pool.query(`delete from poll_votes where poll_id = $1 and voter = $2 and option_id = $3`, [p.id, a, p.options[0]]);
    expect(await tally(p.id)).toMatchObject({ voters: 2, counts: [0, 2, 0] });
    await pool.query(`delete from poll_votes where poll_id = $1 and voter = $2`, [p.id, a]);
    expect(await tally(p.id)).toMatchObject({ voters: 1, counts: [0, 1, 0] });
  });

  it('count a multi-row insert of one voter once', async () => {
    const p = await poll({ maxChoices: 3 });
    const a = await user();
    await pool.query(`insert into poll_votes (poll_id, option_id, voter) values ($1, $2, $4), ($1, $3, $4)`, [p.id, p.options[0], p.options[2], a]);
    expect(await tally(p.id)).toEqual({ voters: 1, version: 1, counts: [1, 0, 1] });
    const dup = await errorOf(pool.query(`insert into poll_votes (poll_id, option_id, voter) values ($1, $2, $3) on conflict do nothing`, [p.id, p.options[0], a]));
    expect(dup).toBeNull();
    expect(await tally(p.id)).toMatchObject({ voters: 1, counts: [1, 0, 1] });
  });

  it('refuse a second vote on a single-choice poll', async () => {
    const p = await poll();
    const a = await user();
    await vote(p.id, p.options[0]!, a);
    const e = await errorOf(vote(p.id, p.options[1]!, a));
    expect(e).toMatchObject({ code: '23514', constraint: 'poll_votes_max_choices' });
    expect(await tally(p.id)).toMatchObject({ voters: 1, counts: [1, 0, 0] });
  });

  it('refuse more than max_choices, also within one statement', async () => {
    const p = await poll({ maxChoices: 2 });
    const a = await user();
    const e = await errorOf(
      pool.query(`insert into poll_votes (poll_id, option_id, voter) values ($1, $2, $5), ($1, $3, $5), ($1, $4, $5)`, [p.id, ...p.options, a]),
    );
    expect(e).toMatchObject({ code: '23514', constraint: 'poll_votes_max_choices' });
    expect(await tally(p.id)).toEqual({ voters: 0, version: 0, counts: [0, 0, 0] });
  });

  it('refuse concurrent votes over max_choices', async () => {
    const p = await poll({ maxChoices: 2, n: 6 });
    const a = await user();
    const results = await Promise.allSettled(p.options.map((o) => vote(p.id, o, a)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect((await tally(p.id)).counts.reduce((x, y) => x + y, 0)).toBe(2);
  });

  it('refuse an option of another poll', async () => {
    const p = await poll();
    const q = await poll();
    const e = await errorOf(vote(p.id, q.options[0]!, await user()));
    expect(e).toMatchObject({ code: '23503', constraint: 'poll_votes_option_fk' });
    expect(await tally(q.id)).toMatchObject({ voters: 0, counts: [0, 0, 0] });
  });

  it('refuse any vote or retraction after close (closed_at, or closes_at passed)', async () => {
    const p = await poll();
    const a = await user();
    await vote(p.id, p.options[0]!, a);
    await pool.query(`update polls set closed_at = now() where id = $1`, [p.id]);
    expect(await errorOf(vote(p.id, p.options[1]!, await user()))).toMatchObject({ code: '23514', constraint: 'poll_votes_poll_open' });
    expect(await errorOf(pool.query(`delete from poll_votes where poll_id = $1`, [p.id]))).toMatchObject({ constraint: 'poll_votes_poll_open' });
    expect(await errorOf(pool.query(`update polls set closed_at = null where id = $1`, [p.id]))).toMatchObject({ code: '23514' });
    const late = await poll({ closesAt: new Date(Date.now() + 60_000).toISOString() });
    await pool.query(`update polls set closes_at = now() - interval '1 second' where id = $1`, [late.id]);
    expect(await errorOf(vote(late.id, late.options[0]!, a))).toMatchObject({ constraint: 'poll_votes_poll_open' });
    expect(await tally(p.id)).toMatchObject({ voters: 1, counts: [1, 0, 0] });
  });

  it('refuse editing a vote in place, and a non-user voter on a named poll', async () => {
    const p = await poll();
    const a = await user();
    await vote(p.id, p.options[0]!, a);
    expect(await errorOf(pool.query(`update poll_votes set option_id = $2 where poll_id = $1`, [p.id, p.options[1]]))).toMatchObject({
      constraint: 'poll_votes_immutable',
    });
    expect(await errorOf(vote(p.id, p.options[0]!, 'not-a-user'))).toMatchObject({ constraint: 'poll_votes_voter' });
  });

  it('keep no time on anonymous votes', async () => {
    const p = await poll({ anonymous: true });
    await vote(p.id, p.options[0]!, 'hmac-of-someone');
    const { rows } = await pool.query(`select voted_at from poll_votes where poll_id = $1`, [p.id]);
    expect(rows).toEqual([{ voted_at: null }]);
  });
});

describe('poll and option edit triggers', () => {
  it('settle the question and options once anyone has voted, and cap options at 20', async () => {
    const p = await poll();
    await pool.query(`update polls set question = 'New?' where id = $1`, [p.id]);
    await pool.query(`update poll_options set text = 'renamed' where id = $1`, [p.options[0]]);
    await vote(p.id, p.options[0]!, await user());
    expect(await errorOf(pool.query(`update polls set question = 'Again?' where id = $1`, [p.id]))).toMatchObject({ constraint: 'polls_settled' });
    expect(await errorOf(pool.query(`update poll_options set text = 'x' where id = $1`, [p.options[1]]))).toMatchObject({ constraint: 'poll_options_settled' });
    expect(await errorOf(pool.query(`insert into poll_options (poll_id, position, text) values ($1, 9, 'late')`, [p.id]))).toMatchObject({
      constraint: 'poll_options_settled',
    });
    const q = await poll({ n: 20 });
    expect(await errorOf(pool.query(`insert into poll_options (poll_id, position, text) values ($1, 20, 'x')`, [q.id]))).toMatchObject({
      constraint: 'poll_options_max',
    });
  });

  it('delete the poll with its votes when its message is deleted', async () => {
    const p = await poll();
    await vote(p.id, p.options[0]!, await user());
    await pool.query(`update messages set deleted_at = now(), body = '' where id = $1`, [p.messageId]);
    expect((await pool.query(`select 1 from polls where id = $1`, [p.id])).rowCount).toBe(0);
    expect((await pool.query(`select 1 from poll_votes where poll_id = $1`, [p.id])).rowCount).toBe(0);
  });

  it('delete a closed poll with its votes when its message is deleted', async () => {
    const p = await poll();
    await vote(p.id, p.options[0]!, await user());
    await pool.query(`update polls set closed_at = now() where id = $1`, [p.id]);
    await pool.query(`update messages set deleted_at = now(), body = '' where id = $1`, [p.messageId]);
    expect((await pool.query(`select 1 from poll_options where poll_id = $1`, [p.id])).rowCount).toBe(0);
  });
});

describe('survey response triggers', () => {
  async function survey(o: { allowEdit?: boolean; anonymous?: boolean } = {}) {
    const messageId = await message();
    const { rows } = await pool.query(
      `insert into surveys (scope_id, message_id, created_by, title, allow_edit, anonymous) values ($1, $2, $3, 'S', $4, $5) returning id`,
      [scopeId, messageId, author, o.allowEdit ?? false, o.anonymous ?? false],
    );
    return { id: rows[0].id as string, messageId };
  }
  const respond = (surveyId: string, respondent: string) =>
    pool.query(`insert into survey_responses (survey_id, respondent, answers, submitted_at) values ($1, $2, '{}', now())`, [surveyId, respondent]);
  const count = async (id: string) => (await pool.query(`select response_count from surveys where id = $1`, [id])).rows[0].response_count;

  it('count responses, one per member, and refuse edits unless allowed', async () => {
    const s = await survey();
    const a = await user();
    await respond(s.id, a);
    expect((await errorOf(respond(s.id, a)))?.code).toBe('23505');
    expect(await errorOf(pool.query(`update survey_responses set answers = '{"x":1}' where survey_id = $1`, [s.id]))).toMatchObject({
      constraint: 'survey_responses_final',
    });
    const e = await survey({ allowEdit: true });
    await respond(e.id, a);
    await pool.query(`update survey_responses set answers = '{"x":1}' where survey_id = $1`, [e.id]);
    expect(await count(s.id)).toBe(1);
    expect(await count(e.id)).toBe(1);
  });

  it('refuse responses after close and keep no time on anonymous ones', async () => {
    const s = await survey({ anonymous: true });
    await respond(s.id, 'hmac-1');
    expect((await pool.query(`select submitted_at from survey_responses where survey_id = $1`, [s.id])).rows).toEqual([{ submitted_at: null }]);
    await pool.query(`update surveys set closed_at = now() where id = $1`, [s.id]);
    expect(await errorOf(respond(s.id, 'hmac-2'))).toMatchObject({ constraint: 'survey_responses_survey_open' });
    expect(await count(s.id)).toBe(1);
  });

  it('delete the survey when its message is deleted', async () => {
    const s = await survey();
    await respond(s.id, await user());
    await pool.query(`update messages set deleted_at = now(), body = '' where id = $1`, [s.messageId]);
    expect((await pool.query(`select 1 from survey_responses where survey_id = $1`, [s.id])).rowCount).toBe(0);
  });
});

describe('VoteInPolls', () => {
  it('is bit 21, granted by the migration to existing everyone and admin roles', async () => {
    const { Permission, DEFAULT_EVERYONE_PERMISSIONS } = await import('../../src/permissions/flags.js');
    expect(Permission.VoteInPolls).toBe(1n << 21n);
    expect(DEFAULT_EVERYONE_PERMISSIONS & Permission.VoteInPolls).toBe(Permission.VoteInPolls);
    const sql = (await import('node:fs')).readFileSync(new URL('../../drizzle/0035_poll_survey_triggers.sql', import.meta.url), 'utf8');
    expect(sql).toContain(`permissions | ${1n << 21n}`);
  });
});
