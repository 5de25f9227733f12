/**
 * The table of bench/history.ts: `n` messages appended to one room with generate_series,
 * once, in one transaction (a run that stops half-way leaves nothing), kept for later runs.
 *
 * The schema is the real one (the migrations ran before); only the row-at-a-time triggers
 * are off while the rows go in (`session_replication_role = replica`: the seq trigger, the
 * counters trigger, the foreign-key checks), and what they would have derived is then set
 * in bulk, consistently:
 * - messages: seq base+1 … base+n (base: the room's last_seq before), two authors in turn,
 *   one in 500 a thread reply to the message before it (its root's `thread_reply_count`),
 *   one in 1,000 soft-deleted (empty body, `deleted_at`);
 * - reactions on one live main-timeline message in 10 (and a second emoji on one in 20):
 *   the messages are inserted with `has_reactions` (the hint the reactions trigger would
 *   set, drizzle/0050) and the reactions go on exactly those messages, with their summary
 *   rows (`reaction_counts`, what the reactions trigger of drizzle/0052 keeps);
 * - scope_events: `message.created` at each message's seq, then `reaction.added` and
 *   `message.deleted` after the last message, gapless;
 * - the room's `last_seq`, `message_total`, `message_count`, `last_message_at`, and the
 *   authors' read marks (moved by the real trigger to their last message).
 * The secondary indexes of `messages` are dropped before and built again after the rows
 * (with the definitions PostgreSQL reports), which is much faster than 10,000,000 index
 * inserts; `VACUUM ANALYZE` follows.
 */
import type pg from 'pg';

const CHUNK = 1_000_000;
/** Secondary indexes of `messages` (drizzle/…): built again after the rows, not row by row. */
const REBUILT = ['messages_search_idx', 'messages_thread_idx', 'messages_deleted_seq_idx', 'messages_everyone_seq_idx'];

/** The ids the loader needs: the room and the two authors (both members of the room). */
export interface LoadTarget {
  roomId: string;
  authorIds: [string, string];
}

/** What `roomState` reports of the room: messages inserted, live, and the event log's end. */
export interface RoomState {
  messageTotal: number;
  messageCount: number;
  lastSeq: number;
  maxEventSeq: number;
}

/** The room's counters next to its event log (an index lookup each: cheap on every run). */
export async function roomState(pool: pg.Pool, roomId: string): Promise<RoomState> {
  const { rows } = await pool.query(
    `select s.message_total::bigint as total, s.message_count::bigint as count, s.last_seq::bigint as last,
            (select max(seq) from scope_events e where e.scope_id = s.id)::bigint as max_event
       from scopes s where s.id = $1`,
    [roomId],
  );
  const r = rows[0];
  return { messageTotal: Number(r.total), messageCount: Number(r.count), lastSeq: Number(r.last), maxEventSeq: Number(r.max_event ?? 0) };
}

/**
 * Appends `n` messages to the room (see the file's comment), logging progress per
 * 1,000,000 rows. @returns the seq range of the new messages.
 */
export async function loadHistory(pool: pg.Pool, t: LoadTarget, n: number, log: (line: string) => void): Promise<{ first: number; last: number }> {
  const c = await pool.connect();
  const started = Date.now();
  let base = 0;
  const q = (text: string, values: unknown[] = []) => c.query(text, values);
  try {
    await q('begin');
    await q(`set local maintenance_work_mem = '1GB'`);
    await q(`set local session_replication_role = replica`);
    base = Number((await q('select last_seq from scopes where id = $1 for update', [t.roomId])).rows[0].last_seq);
    const defs = (await q(`select indexname, indexdef from pg_indexes where tablename = 'messages' and indexname = any ($1)`, [REBUILT])).rows as { indexname: string; indexdef: string }[];
    for (const d of defs) await q(`drop index ${d.indexname}`);
    // Message times: one every 100 ms, the last one now; deletions and reactions a moment later.
    const t0 = `now() - interval '100 ms' * $5::bigint`;
    for (let from = 1; from <= n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK - 1);
      await q(
        `insert into messages (id, scope_id, seq, author_id, body, thread_root_id, created_at, deleted_at, has_reactions)
         select md5($1::text || ':' || ($2::bigint + g))::uuid, $1::uuid, $2::bigint + g,
                case when g % 2 = 0 then $3::uuid else $4::uuid end,
                case when g % 1000 = 7 then '' else 'message ' || g || ' of the history bench: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod' end,
                case when g % 500 = 0 then md5($1::text || ':' || ($2::bigint + g - 1))::uuid end,
                ${t0} + interval '100 ms' * g,
                case when g % 1000 = 7 then now() + interval '1 second' end,
                g % 10 = 3 and g % 1000 <> 7 and g % 500 <> 0
           from generate_series($6::bigint, $7::bigint) g`,
        [t.roomId, base, t.authorIds[0], t.authorIds[1], n, from, to],
      );
      await q(
        `insert into scope_events (scope_id, seq, type, actor_id, message_id, payload, created_at)
         select scope_id, seq, 'message.created', author_id, id, '{}'::jsonb, created_at
           from messages where scope_id = $1 and seq between $2::bigint and $3::bigint`,
        [t.roomId, base + from, base + to],
      );
      log(`  ${to.toLocaleString('en')} of ${n.toLocaleString('en')} messages (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await q(
      `update messages r set thread_reply_count = r.thread_reply_count + c.n
         from (select thread_root_id as id, count(*) as n from messages
                where scope_id = $1 and seq > $2 and thread_root_id is not null and deleted_at is null group by 1) c
        where r.id = c.id`,
      [t.roomId, base],
    );
    await q(
      `insert into reactions (message_id, emoji, user_id, created_at)
       select id, e.emoji, e.user_id, now()
         from messages, (values ('👍', $3::uuid, 10), ('🎉', $4::uuid, 20)) as e(emoji, user_id, every)
        where scope_id = $1 and seq > $2 and has_reactions and (seq - $2) % e.every = 3`,
      [t.roomId, base, t.authorIds[1], t.authorIds[0]],
    );
    // Their summary rows, as the reactions trigger (drizzle/0052) would keep them.
    await q(
      `insert into reaction_counts (message_id, emoji, count, first_at, user_ids)
       select r.message_id, r.emoji, count(*)::int, min(r.created_at), (array_agg(r.user_id order by r.created_at, r.user_id))[1:3]
         from reactions r join messages m on m.id = r.message_id
        where m.scope_id = $1 and m.seq > $2
        group by r.message_id, r.emoji`,
      [t.roomId, base],
    );
    // After the last message: its reactions, then its deletions, each with the next seq.
    const reacted = await q(
      `insert into scope_events (scope_id, seq, type, actor_id, message_id, payload, created_at)
       select $1, $2::bigint + $3::bigint + row_number() over (order by m.seq, r.emoji), 'reaction.added', r.user_id, r.message_id,
              jsonb_build_object('messageId', r.message_id, 'emoji', r.emoji, 'userId', r.user_id, 'count', 1), r.created_at
         from reactions r join messages m on m.id = r.message_id
        where m.scope_id = $1 and m.seq > $2`,
      [t.roomId, base, n],
    );
    const deleted = await q(
      `insert into scope_events (scope_id, seq, type, actor_id, message_id, payload, created_at)
       select $1, $2::bigint + $3::bigint + $4::bigint + row_number() over (order by seq), 'message.deleted', author_id, id,
              jsonb_build_object('messageId', id), deleted_at
         from messages where scope_id = $1 and seq > $2 and deleted_at is not null`,
      [t.roomId, base, n, reacted.rowCount],
    );
    const lastSeq = base + n + reacted.rowCount! + deleted.rowCount!;
    await q(
      `update scopes set last_seq = $2, message_total = message_total + $3, message_count = message_count + $3 - $4,
              last_message_at = greatest(coalesce(last_message_at, now()), now())
        where id = $1`,
      [t.roomId, lastSeq, n, deleted.rowCount],
    );
    await q(`set local session_replication_role = origin`);
    // The real trigger (read_marks_advance) derives seen_count and mention_count.
    await q(
      `update read_marks r set last_read_seq = (select max(seq) from messages m where m.scope_id = r.scope_id and m.author_id = r.user_id)
        where r.scope_id = $1 and r.user_id = any ($2::uuid[])`,
      [t.roomId, t.authorIds],
    );
    log(`  events, reactions and counters set (${((Date.now() - started) / 1000).toFixed(0)} s); building ${defs.map((d) => d.indexname).join(', ')}`);
    for (const d of defs) await q(d.indexdef);
    await q('commit');
  } catch (err) {
    await q('rollback').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
  log(`  committed (${((Date.now() - started) / 1000).toFixed(0)} s); vacuum analyze`);
  for (const table of ['messages', 'scope_events', 'reactions', 'reaction_counts']) await pool.query(`vacuum (analyze) ${table}`);
  log(`  loaded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { first: base + 1, last: base + n };
}
