import type { Message } from './types.js';
import type { AttachmentUpdate } from '../media/types.js';
import type { PollScopeEvent } from '../polls/events.js';

/** Fields every conversation event carries. `seq` is gapless per scope and is the tracked id. */
interface EventBase {
  scopeId: string;
  seq: number;
  /** Who caused it (null for the system). */
  actorId: string | null;
  at: Date;
  /**
   * For an event about an earlier message (deleted, reaction, pin): that message's seq.
   * Lets a subscriber who may not see that message (historyVisibility `joined`) be spared it.
   */
  messageSeq?: number;
}

/**
 * What a conversation subscriber receives: one `scope_events` row, discriminated on
 * `type`. Events about a message carry the message as it is now (a replay of a
 * deleted message's `message.created` shows it deleted, body empty).
 */
export type ScopeEvent =
  | (EventBase & { type: 'message.created'; message: Message })
  | (EventBase & { type: 'message.edited'; message: Message })
  | (EventBase & { type: 'message.deleted'; messageId: string })
  /** `count`: the emoji's count on the message after this change (absent on events written before it was recorded). */
  | (EventBase & { type: 'reaction.added'; messageId: string; emoji: string; userId: string; count?: number })
  | (EventBase & { type: 'reaction.removed'; messageId: string; emoji: string; userId: string; count?: number })
  | (EventBase & { type: 'message.pinned'; messageId: string })
  | (EventBase & { type: 'message.unpinned'; messageId: string })
  | (EventBase & { type: 'member.joined'; userId: string })
  | (EventBase & { type: 'member.left'; userId: string; reason: 'left' | 'removed' | 'kicked' | 'banned' })
  // Calendar events (src/events): the payload names the series; fetch it with events.get.
  | (EventBase & { type: 'event.created'; eventId: string; title: string })
  | (EventBase & { type: 'event.updated'; eventId: string; title: string })
  | (EventBase & { type: 'event.deleted'; eventId: string })
  /** One instance moved or edited; `originalStart` is its RECURRENCE-ID. */
  | (EventBase & { type: 'event.instance_updated'; eventId: string; originalStart: string })
  | (EventBase & { type: 'event.instance_cancelled'; eventId: string; originalStart: string })
  /** "This and following": `eventId` now ends before `originalStart`; `newEventId` continues from it. */
  | (EventBase & { type: 'event.split'; eventId: string; newEventId: string; originalStart: string })
  /** The media pipeline finished an attachment (ready or failed): the attachment as it is now (src/media). */
  | (EventBase & { type: 'attachment.updated'; messageId: string | null; attachment: AttachmentUpdate })
  // Polls and surveys (src/polls/events.ts): live results, coalesced, visibility applied per receiver.
  | PollScopeEvent;

/** The event types a scope's log holds. */
export type ScopeEventType = ScopeEvent['type'];

/** Event types whose row points at a message (`scope_events.message_id`). */
const MESSAGE_EVENTS = new Set<ScopeEventType>(['message.created', 'message.edited']);

/** A `scope_events` row as stored: type-specific fields live in `payload`. */
export interface ScopeEventRow {
  scopeId: string;
  seq: number;
  type: string;
  actorId: string | null;
  messageId: string | null;
  payload: unknown;
  createdAt: Date;
}

/**
 * Builds the client event from a stored row (and, for message events, the message row
 * as it is now). The one place the log's storage shape turns into the wire shape.
 * @throws Error for a type this server does not know (a newer writer, or a bug).
 */
export function toScopeEvent(row: ScopeEventRow, message: Message | null): ScopeEvent {
  const base = { scopeId: row.scopeId, seq: row.seq, actorId: row.actorId, at: row.createdAt };
  const type = row.type as ScopeEventType;
  if (MESSAGE_EVENTS.has(type)) {
    if (!message) throw new Error(`scope ${row.scopeId} seq ${row.seq}: ${row.type} without its message`);
    return { ...base, type, message } as ScopeEvent;
  }
  const payload = (row.payload ?? {}) as Record<string, unknown>;
  switch (type) {
    case 'message.deleted':
    case 'message.pinned':
    case 'message.unpinned':
    case 'reaction.added':
    case 'reaction.removed':
    case 'member.joined':
    case 'member.left':
    case 'event.created':
    case 'event.updated':
    case 'event.deleted':
    case 'event.instance_updated':
    case 'event.instance_cancelled':
    case 'event.split':
    case 'attachment.updated':
    case 'poll.created':
    case 'poll.updated':
    case 'poll.option_added':
    case 'poll.closed':
    case 'survey.created':
    case 'survey.updated':
    case 'survey.closed':
      return { ...payload, ...base, type } as ScopeEvent;
    default:
      throw new Error(`scope ${row.scopeId} seq ${row.seq}: unknown event type ${row.type}`);
  }
}

/**
 * Sent instead of a replay when a resuming subscriber is further behind than the
 * configured limit: refetch history with `messages.list`, then carry on from `seq`.
 */
export interface ResyncRequired {
  type: 'resync.required';
  scopeId: string;
  /** The latest seq; the subscription continues after it. */
  seq: number;
  /** How many events were skipped. */
  missed: number;
}

/** What `messages.onEvent` yields: a log event, or a request to refetch. */
export type ScopeStreamEvent = ScopeEvent | ResyncRequired;

/**
 * The seq of the earlier message an event is about (an edit, delete, reaction or pin of
 * it), or 0 for an event that is not about an earlier message. What a subscriber who sees
 * only messages after some seq (historyVisibility `joined`) checks.
 */
export function aboutSeq(event: ScopeStreamEvent): number {
  if (event.type === 'message.edited') return event.message.seq;
  if (event.type === 'message.created' || event.type === 'resync.required') return 0;
  // Poll and survey events carry no messageSeq: a `joined` member still sees the live results
  // of a poll posted before its join (the poll itself is hidden by the message reads).
  return 'messageSeq' in event ? (event.messageSeq ?? 0) : 0;
}

/** The user whose access to the conversation ends with this event (their own `member.left`), or null. */
export function endsAccessOf(event: ScopeStreamEvent): string | null {
  return event.type === 'member.left' ? event.userId : null;
}
