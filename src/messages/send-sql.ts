import type { Db } from '../db/client.js';
import { queryPrepared } from '../db/prepared.js';
import type { MessageMentions } from './types.js';
import type { AccessStamp } from '../permissions/service.js';
import { stampHolds } from '../permissions/stamp-sql.js';

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
 * With a stamp of the permission check (`$10` the community, `$11` its perm_version;
 * AccessService.requireStamped), the statement writes nothing and answers `allowed = false`
 * when the scope is gone or the community's version moved since that check: the check may
 * have come from memory, and this is where it is confirmed, in the send's own snapshot.
 * Sent as a named (prepared) statement on PostgreSQL, so it is parsed and planned once
 * per connection rather than built by drizzle on every call.
 */
const SEND_TEXT = `
with dup as (
  select id from messages where $5::text is not null and author_id = $2::uuid and nonce = $5::text limit 1
), allowed as (
  select $10::uuid is null or exists (select 1 from scopes s where s.id = $1::uuid and ${stampHolds('s', '$10', '$11')}) as ok
), ev as (
  insert into scope_events (scope_id, seq, type, actor_id, message_id)
  select $1::uuid, 0, 'message.created', $2::uuid, $3::uuid from allowed where allowed.ok and not exists (select 1 from dup)
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
select (select id from dup) as dup_id, (select ok from allowed) as allowed, (select seq from ev) as seq,
       (select floor(extract(epoch from created_at) * 1000)::int8 from m) as at_ms`;

interface SendRow {
  dup_id: string | null;
  allowed: boolean;
  seq: string | number | null;
  /** The message's and the event's `created_at` (both `now()` of the statement), in whole ms since the epoch: a number, not a timestamp to parse. */
  at_ms: string | number | null;
}

/** The statement's result: the new message's seq and times, or the id of the message that already holds the nonce. */
export type SendResult =
  | { stale: false; dupId: string }
  | { stale: true; dupId: null }
  | { stale: false; dupId: null; seq: number; createdAt: Date; eventAt: Date };

/**
 * Runs the one-statement send (see SEND_TEXT) as a prepared statement (db/prepared.ts).
 */
export async function insertMessage(
  db: Db,
  m: { scopeId: string; authorId: string; id: string; body: string; nonce: string | null; mentions: MessageMentions & { readers: string[] }; stamp?: AccessStamp | undefined },
): Promise<SendResult> {
  const kinds = [...m.mentions.userIds.map(() => 'user'), ...m.mentions.roleIds.map(() => 'role')];
  const readers = m.mentions.userIds.length > 0 ? m.mentions.readers.join(',') || '-none-' : '';
  const values = [m.scopeId, m.authorId, m.id, m.body, m.nonce, m.mentions.everyone, kinds, [...m.mentions.userIds, ...m.mentions.roleIds], readers, m.stamp?.rootId ?? null, m.stamp?.rootVersion ?? null];
  const [row] = await queryPrepared<SendRow>(db, 'guildhall_messages_send', SEND_TEXT, values);
  if (!row) throw new Error('the send statement returned no row');
  if (row.dup_id) return { stale: false, dupId: row.dup_id };
  if (!row.allowed) return { stale: true, dupId: null };
  const at = Number(row.at_ms);
  return { stale: false, dupId: null, seq: Number(row.seq), createdAt: new Date(at), eventAt: new Date(at) };
}
