import type { ScopeStreamEvent } from '../messages/events.js';
import { mentionCount, noMentions } from '../messages/mentions.js';
import type { Message, MessageMentions } from '../messages/types.js';

/**
 * The compact wire form of conversation events (`messages.onEvent` over WebSocket, for a
 * connection whose connectionParams say `wire: "compact"`, as the SDK's do). It is plain
 * JSON, with no superjson envelope or meta, and carries only what the receiver cannot
 * restore:
 *
 * - the event's `scopeId` and `seq` are left out: the subscription's input names the
 *   scope, and the frame's tracked id is the seq;
 * - dates are milliseconds since the epoch (numbers), not ISO strings with a meta entry;
 * - a message leaves out its `scopeId`, its `seq` and `authorId` when they equal the
 *   event's `seq` and `actorId`, `createdAt` when it equals the event's `at`, and every
 *   field at its default (`nonce`, `replyToId`, `threadRootId`, `editedAt`, `deletedAt`
 *   null; `threadReplyCount` 0; no mentions, reactions or attachments);
 * - `actorId` is left out when null.
 *
 * An event whose compact form would still hold a value plain JSON cannot carry (a Date
 * somewhere else, `undefined`, a bigint) is not compacted (`compactEvent` returns null)
 * and travels in the superjson form, which `isCompact` tells apart (superjson's output is
 * always `{ json, meta? }`). `expandEvent(compactEvent(e), e.scopeId, e.seq)` deep-equals
 * `e` for every event compactEvent accepts (test/realtime-compact.test.ts).
 *
 * Pure, and imported by the SDK (sdk/src/index.ts), which expands events in a link.
 */

/** A compact event: the event's own fields, as described above. */
export type CompactEvent = { type: string } & Record<string, unknown>;

const MESSAGE_EVENTS = new Set(['message.created', 'message.edited']);

/** True for a compact event (as opposed to a superjson `{ json, meta? }` payload). */
export function isCompact(data: unknown): data is CompactEvent {
  return typeof data === 'object' && data !== null && !('json' in data) && typeof (data as { type?: unknown }).type === 'string';
}

const emptyMentions = (m: MessageMentions | undefined) => !m || mentionCount(m) === 0;

function compactMessage(m: Message, seq: number, actorId: string | null, at: Date | undefined): Record<string, unknown> {
  const { scopeId: _scopeId, seq: mseq, authorId, createdAt, editedAt, deletedAt, mentions, reactions, attachments, ...rest } = m;
  const out: Record<string, unknown> = { ...rest };
  if (mseq !== seq) out['seq'] = mseq;
  if (authorId !== actorId) out['authorId'] = authorId;
  if (!(at instanceof Date) || createdAt.getTime() !== at.getTime()) out['createdAt'] = createdAt.getTime();
  if (out['nonce'] === null) delete out['nonce'];
  if (out['replyToId'] === null) delete out['replyToId'];
  if (out['threadRootId'] === null) delete out['threadRootId'];
  if (out['threadReplyCount'] === 0) delete out['threadReplyCount'];
  if (editedAt !== null) out['editedAt'] = editedAt.getTime();
  if (deletedAt !== null) out['deletedAt'] = deletedAt.getTime();
  if (!emptyMentions(mentions)) out['mentions'] = mentions;
  if (reactions.length > 0) out['reactions'] = reactions;
  if (attachments.length > 0) out['attachments'] = attachments.map((a) => ({ ...a, createdAt: a.createdAt.getTime() }));
  return out;
}

/**
 * The compact form of a conversation event (see the module comment), or null when the
 * event does not compact losslessly and must travel as superjson.
 */
export function compactEvent(event: ScopeStreamEvent): CompactEvent | null {
  const { scopeId: _scopeId, seq, ...rest } = event as ScopeStreamEvent & Record<string, unknown>;
  const out: Record<string, unknown> = { ...rest };
  const at = out['at'];
  if (at instanceof Date) out['at'] = at.getTime();
  if (event.type !== 'resync.required' && event.actorId === null) delete out['actorId'];
  if (MESSAGE_EVENTS.has(event.type) && 'message' in event) {
    out['message'] = compactMessage(event.message, seq, event.actorId, at instanceof Date ? at : undefined);
  }
  // Whatever is left must be plain JSON, or the receiver could not restore it exactly.
  return isPlainJson(out) ? (out as CompactEvent) : null;
}

/** True when JSON.parse(JSON.stringify(v)) deep-equals v: strings, finite numbers, booleans, null, arrays and plain objects of them. */
function isPlainJson(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every(isPlainJson);
  if (typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v) if (!isPlainJson((v as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * Restores the event a compact form was made from, for the subscription to `scopeId`,
 * at `seq` (the frame's tracked id). Dates come back as Date objects.
 */
export function expandEvent(c: CompactEvent, scopeId: string, seq: number): ScopeStreamEvent {
  if (c.type === 'resync.required') return { ...c, type: 'resync.required', scopeId, seq } as ScopeStreamEvent;
  const { at, actorId, message, ...rest } = c as CompactEvent & { at?: number; actorId?: string; message?: Record<string, unknown> };
  const event: Record<string, unknown> = { ...rest, scopeId, seq, actorId: actorId ?? null };
  if (typeof at === 'number') event['at'] = new Date(at);
  if (message && MESSAGE_EVENTS.has(c.type)) event['message'] = expandMessage(message, scopeId, seq, actorId ?? null, at);
  else if (message !== undefined) event['message'] = message;
  return event as unknown as ScopeStreamEvent;
}

function expandMessage(m: Record<string, unknown>, scopeId: string, seq: number, actorId: string | null, at: number | undefined): Message {
  const date = (v: unknown) => (typeof v === 'number' ? new Date(v) : null);
  const attachments = (m['attachments'] as Record<string, unknown>[] | undefined) ?? [];
  return {
    ...m,
    scopeId,
    seq: (m['seq'] as number | undefined) ?? seq,
    authorId: (m['authorId'] as string | undefined) ?? actorId,
    nonce: m['nonce'] ?? null,
    createdAt: new Date((m['createdAt'] as number | undefined) ?? at!),
    replyToId: m['replyToId'] ?? null,
    threadRootId: m['threadRootId'] ?? null,
    threadReplyCount: m['threadReplyCount'] ?? 0,
    editedAt: date(m['editedAt']),
    deletedAt: date(m['deletedAt']),
    mentions: m['mentions'] ?? noMentions(),
    reactions: m['reactions'] ?? [],
    attachments: attachments.map((a) => ({ ...a, createdAt: new Date(a['createdAt'] as number) })),
  } as Message;
}
