import type { Message } from './types.js';

/**
 * What a conversation subscriber receives: one `scope_events` row, discriminated on
 * `type`. `seq` is gapless per scope; it is also the subscription's tracked event id.
 */
export type ScopeEvent = {
  type: 'message.created';
  scopeId: string;
  seq: number;
  message: Message;
};

/** The event types a scope's log holds. */
export type ScopeEventType = ScopeEvent['type'];
