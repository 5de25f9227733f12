/**
 * What `me.onEvent` yields: the user's own stream, outside any one conversation. The
 * durable events come from the user's log (`user_events`, written by triggers) with a
 * gapless per-user seq; `unread.changed` is not stored: it carries the latest seq of the
 * log as its id, and after a reconnect the client refetches counts with readState.
 */
export type UserEvent =
  | { type: 'mention'; seq: number; at: Date; scopeId: string; messageId: string; authorId: string }
  | { type: 'dm.opened'; seq: number; at: Date; scopeId: string }
  | {
      type: 'membership.changed';
      seq: number;
      at: Date;
      scopeId: string;
      change: 'joined' | 'left' | 'removed' | 'kicked' | 'banned';
    }
  /**
   * A reminder of a calendar event is due: `minutes` before the instance whose original
   * start is `instanceStart` (its RECURRENCE-ID) and which actually starts at `start`.
   */
  | {
      type: 'reminder.due';
      seq: number;
      at: Date;
      scopeId: string;
      eventId: string;
      title: string;
      instanceStart: string;
      start: string;
      minutes: number;
    }
  /** A seat freed up: the user's waitlisted RSVP is now `going` (`instanceStart` '' for the series). */
  | { type: 'rsvp.promoted'; seq: number; at: Date; scopeId: string; eventId: string; instanceStart: string }
  | { type: 'unread.changed'; seq: number; scopeId: string; unread: number; mentions: number };

/** The event types of the user stream. */
export type UserEventType = UserEvent['type'];
