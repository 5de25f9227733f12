import type { Db } from '../db/client.js';
import { runNamed } from '../db/named.js';
import type { MessageMentions } from './types.js';

/**
 * The send of a message without a reply target or thread root, as one statement: the nonce
 * check, the `message.created` event (the seq trigger takes the scope's `last_seq` row
 * lock), the message and its mentions. One statement is one transaction, so the event
 * and the message commit together, and the room lock is held for that statement alone
 * (before this, across four round trips). The triggers run as for any insert and stay the
 * source of truth for every counter. A message with the same nonce by the same author
 * makes the statement write nothing and return its id (`dupId`). `$9` names the mentioned users
 * who may read the message (`guildhall.mention_readers`, drizzle/0013), set before the
 * mention rows' AFTER triggers run at the end of the statement; two concurrent sends of
 * one nonce still meet the unique index (SQLSTATE 23505), which the caller handles.
 * Sent as a named (prepared) statement on PostgreSQL, so it is parsed and planned once
 * per connection rather than built by drizzle on every call.
 */
const SEND_TEXT = `
with dup as (
  select id from messages where $5::text is not null and author_id = $2::uuid and nonce = $5::text limit 1
), ev as (
  insert into scope_events (scope_id, seq, type, actor_id, message_id)
  select $1::uuid, 0, 'message.created', $2::uuid, $3::uuid where not exists (select 1 from dup)
  returning seq, created_at
), m as (
  insert into messages (id, scope_id, seq, author_id, body, nonce, mention_everyone)
  select $3::uuid, $1::uuid, ev.seq, $2::uuid, $4::text, $5::text, $6::boolean from ev
  returning id, created_at
), readers as (
  select set_config('guildhall.mention_readers', $9::text, true) as v
), mm as (
  insert into message_mentions (message_id, scope_id, kind, target_id)
  select m.id, $1::uuid, x.kind, x.target_id from m, readers, unnest($7::text[], $8::uuid[]) as x(kind, target_id)
)
select (select id from dup) as dup_id, (select seq from ev) as seq,
       (select created_at from m) as created_at, (select created_at from ev) as event_at`;

interface SendRow {
  dup_id: string | null;
  seq: string | number | null;
  created_at: Date | string | null;
  event_at: Date | string | null;
}

/** The statement's result: the new message's seq and times, or the id of the message that already holds the nonce. */
export type SendResult = { dupId: string } | { dupId: null; seq: number; createdAt: Date; eventAt: Date };

/** Runs the one-statement send (see SEND_TEXT) as a named statement (src/db/named.ts). */
export async function insertMessage(
  db: Db,
  m: { scopeId: string; authorId: string; id: string; body: string; nonce: string | null; mentions: MessageMentions & { readers: string[] } },
): Promise<SendResult> {
  const kinds = [...m.mentions.userIds.map(() => 'user'), ...m.mentions.roleIds.map(() => 'role')];
  const readers = m.mentions.userIds.length > 0 ? m.mentions.readers.join(',') || '-none-' : '';
  const values = [m.scopeId, m.authorId, m.id, m.body, m.nonce, m.mentions.everyone, kinds, [...m.mentions.userIds, ...m.mentions.roleIds], readers];
  const row = (await runNamed(db, 'guildhall_messages_send', SEND_TEXT, values))[0] as SendRow;
  if (row.dup_id) return { dupId: row.dup_id };
  return { dupId: null, seq: Number(row.seq), createdAt: new Date(row.created_at!), eventAt: new Date(row.event_at!) };
}
