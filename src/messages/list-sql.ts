import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { queryPrepared } from '../db/prepared.js';
import { toAttachment, type AttachmentFields } from '../media/views.js';
import type { AccessStamp } from '../permissions/service.js';
import { stampHolds } from '../permissions/stamp-sql.js';
import { toMessage, type MessageRow } from './rows.js';
import type { Message, MessageMentions, ReactionSummary } from './types.js';

/**
 * A page of the main timeline (live messages that are not thread replies) as one
 * statement: the caller's history floor, two keyset windows on `(scope_id, seq)` and, for
 * the rows that go out, their mentions, reactions and attachments aggregated as JSON. It
 * replaces a page query, an existence probe, the floor lookup and three `IN (…ids…)`
 * queries built by drizzle on every call; it is a named (prepared) statement on
 * PostgreSQL, planned once per connection, and reads no `search` tsvector.
 *
 * The two windows (service.ts `list` turns each cursor into them):
 * - `d`: seq < $3, newest first, at most $4 rows, of which the first $5 are hydrated;
 * - `a`: seq > $6, oldest first, at most $7 rows, of which the first $8 are hydrated.
 * Rows past the hydrated ones only answer "is there more" (one row each at most). A
 * window of 0 rows reads no index (`$4 > 0`, `$7 > 0` are one-time filters).
 * `fl` is the history floor of the viewer $2 (history.ts `historyFloor`, in SQL): under
 * historyVisibility `joined`, for a viewer who owns neither the scope nor an ancestor,
 * the seq of their member.joined; else 0. `fl.ok` confirms a stamp of the permission
 * check (`$9` the community, `$10` its perm_version; null: no stamp, no condition): with
 * a stamp that no longer holds, neither window reads a row (listWindows). A scope that
 * does not exist gives no rows.
 *
 * The aggregates keep the order and shape hydrate (rows.ts) gives: mention ids sorted;
 * reactions one entry per emoji in the order it was first used, read from its summary row
 * (`reaction_counts`, drizzle/0052: the count and the first users, no row per reaction),
 * `me` for the viewer $2 as rows.ts `reactedSql` (a primary-key probe of `reactions` only
 * when more reacted than are shown and the viewer is not among them); attachments
 * oldest first, those marked for deletion left out. Each aggregate runs only for a row
 * that goes out (`keep`) and whose hint column (`has_mentions`, `has_reactions`,
 * `has_attachments`: true once a child row was written, never false while one exists,
 * drizzle/0050) says there may be rows: inside `case when … then (subquery) end` the
 * subquery is not run at all for the other rows, where a `WHERE` condition would still
 * start its aggregate and sort nodes once per row.
 */
/**
 * The most rows one window reads (a page of `limits.pageMax` and the row that says there
 * is more). A constant, not the `$4`/`$7` parameter, bounds the index scans, so the
 * generic plan PostgreSQL caches for the prepared statement estimates a page's worth of
 * rows (with a parameter it guesses 10% of the room, which on a large room priced the
 * plan past `jit_above_cost`: a JIT compile of ~250 ms on every call). The parameters
 * cut the windows through row_number (a WindowAgg run condition: it stops there).
 */
const TAKE_MAX = limits.pageMax + 1;

const PAGE_TEXT = `
with fl as (
  select case when s.history_visibility = 'joined'
               and not exists (select 1 from memberships o where o.user_id = $2::uuid and o.is_owner and o.scope_id = any (s.path || s.id))
              then coalesce((select joined_seq from memberships where scope_id = $1::uuid and user_id = $2::uuid), 0)
              else 0 end::bigint as floor,
         $9::uuid is null or ${stampHolds('s', '$9', '$10')} as ok
    from scopes s where s.id = $1::uuid
), d as (
  select y.*, y.rn <= $5::int as keep
    from (select x.*, row_number() over (order by x.seq desc) as rn
            from (select m.id, m.scope_id, m.seq, m.author_id, m.body, m.nonce, m.reply_to_id, m.thread_root_id, m.mention_everyone,
                         m.thread_reply_count, m.created_at, m.edited_at, m.deleted_at, m.has_mentions, m.has_reactions, m.has_attachments
                    from messages m
                   where $4::int > 0 and (select ok from fl) and m.scope_id = $1::uuid and m.thread_root_id is null and m.deleted_at is null
                     and m.seq > (select floor from fl) and m.seq < $3::bigint
                   order by m.seq desc limit ${TAKE_MAX}) x) y
   where y.rn <= $4::int
), a as (
  select y.*, y.rn <= $8::int as keep
    from (select x.*, row_number() over (order by x.seq) as rn
            from (select m.id, m.scope_id, m.seq, m.author_id, m.body, m.nonce, m.reply_to_id, m.thread_root_id, m.mention_everyone,
                         m.thread_reply_count, m.created_at, m.edited_at, m.deleted_at, m.has_mentions, m.has_reactions, m.has_attachments
                    from messages m
                   where $7::int > 0 and (select ok from fl) and m.scope_id = $1::uuid and m.thread_root_id is null and m.deleted_at is null
                     and m.seq > greatest($6::bigint, (select floor from fl))
                   order by m.seq limit ${TAKE_MAX}) x) y
   where y.rn <= $7::int
), p as (
  select 'd' as part, * from d union all select 'a' as part, * from a
)
select p.part, p.keep, p.id, p.scope_id as "scopeId", p.seq, p.author_id as "authorId", p.body, p.nonce,
       p.reply_to_id as "replyToId", p.thread_root_id as "threadRootId", p.mention_everyone as "mentionEveryone",
       p.thread_reply_count as "threadReplyCount", p.created_at as "createdAt", p.edited_at as "editedAt", p.deleted_at as "deletedAt",
       case when p.keep and p.has_mentions then (select json_build_object(
                 'userIds', coalesce(json_agg(mm.target_id order by mm.target_id) filter (where mm.kind = 'user'), '[]'::json),
                 'roleIds', coalesce(json_agg(mm.target_id order by mm.target_id) filter (where mm.kind = 'role'), '[]'::json))
          from message_mentions mm where mm.message_id = p.id having count(*) > 0) end as mentions,
       case when p.keep and p.has_reactions then (select json_agg(json_build_object('emoji', c.emoji, 'count', c.count,
                 'me', $2::uuid = any (c.user_ids) or (c.count > cardinality(c.user_ids)
                       and exists (select 1 from reactions r where r.message_id = c.message_id and r.emoji = c.emoji and r.user_id = $2::uuid)),
                 'userIds', c.user_ids) order by c.first_at, c.emoji)
          from reaction_counts c where c.message_id = p.id) end as reactions,
       case when p.keep and p.has_attachments then (select json_agg(j) from (select json_build_object(
                 'id', t.id, 'purpose', t.purpose, 'scopeId', t.scope_id, 'messageId', t.message_id, 'ownerId', t.owner_id,
                 'filename', t.filename, 'contentType', t.content_type, 'declaredType', t.declared_type, 'size', t.size,
                 'declaredSize', t.declared_size, 'status', t.status, 'failureReason', t.failure_reason, 'displayKey', t.display_key,
                 'width', t.width, 'height', t.height, 'animated', t.animated, 'thumbhash', t.thumbhash, 'variants', t.variants,
                 'createdAt', t.created_at) as j
          from attachments t where t.message_id = p.id and t.delete_requested_at is null order by t.created_at, t.id) s) end as attachments
  from p
 order by p.part = 'a', case when p.part = 'a' then p.seq else -p.seq end`;

interface PageRow extends Omit<MessageRow, 'seq'> {
  part: 'd' | 'a';
  keep: boolean;
  seq: string | number;
  mentions: Pick<MessageMentions, 'userIds' | 'roleIds'> | null;
  reactions: ReactionSummary[] | null;
  attachments: (Omit<AttachmentFields, 'createdAt'> & { createdAt: string })[] | null;
}

/** One window of `listWindows`: rows below (`d`) or above (`a`) a seq, and how many of them to hydrate. */
export interface PageWindow {
  /** Exclusive bound: `d` takes seq < bound, `a` takes seq > bound. */
  bound: number;
  /** Rows to read (0: none). */
  take: number;
  /** Of those, how many become messages (the rest only say there are more). */
  keep: number;
}

/** What `listWindows` returns per window: the messages (in the window's order) and whether rows past them exist. */
export interface WindowResult {
  items: Message[];
  /** Rows read in all (items plus the "is there more" rows). */
  read: number;
}

/**
 * Runs the page statement (PAGE_TEXT) for `scopeId` as `viewerId` sees it (their history
 * floor): window `d` newest first, window `a` oldest first. It checks no permission
 * itself. With a `stamp` (AccessService.rememberedStamp: a check answered from memory),
 * the windows read nothing unless the scope is live, still under `stamp.rootId`, and that
 * community's perm_version is still `stamp.rootVersion`, in the statement's own snapshot
 * (`$9`, `$10`; as the plain send, send-sql.ts): no rows then means "empty, or the stamp
 * no longer holds", and the caller checks access from the database.
 */
export async function listWindows(
  db: Db,
  scopeId: string,
  viewerId: string,
  d: PageWindow,
  a: PageWindow,
  stamp?: AccessStamp,
): Promise<{ d: WindowResult; a: WindowResult }> {
  const rows = await queryPrepared<PageRow>(db, 'guildhall_messages_page', PAGE_TEXT, [
    scopeId,
    viewerId,
    d.bound,
    d.take,
    d.keep,
    a.bound,
    a.take,
    a.keep,
    stamp?.rootId ?? null,
    stamp?.rootVersion ?? null,
  ]);
  const out = { d: { items: [] as Message[], read: 0 }, a: { items: [] as Message[], read: 0 } };
  for (const r of rows) {
    const w = out[r.part];
    w.read++;
    if (!r.keep) continue;
    const { part: _p, keep: _k, mentions, reactions, attachments, ...row } = r;
    w.items.push(
      toMessage(
        { ...row, seq: Number(row.seq) },
        mentions ? { userIds: mentions.userIds, roleIds: mentions.roleIds, everyone: false } : undefined,
        reactions ?? undefined,
        attachments?.map((t) => toAttachment({ ...t, createdAt: new Date(t.createdAt) })),
      ),
    );
  }
  return out;
}
