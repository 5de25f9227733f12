import { z } from 'zod';
import type { PresenceEvent } from './presence.js';
import type { TypingEvent } from './typing.js';

/** A typing notice: who types where, until when. */
export const TypingOutput = z.object({ scopeId: z.guid(), userId: z.guid(), until: z.date() }) satisfies z.ZodType<TypingEvent>;

/** A user's presence. */
export const PresenceOutput = z.object({ userId: z.guid(), status: z.enum(['online', 'idle', 'offline']) }) satisfies z.ZodType<PresenceEvent>;
