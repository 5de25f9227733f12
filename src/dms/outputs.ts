import { z } from 'zod';
import { ScopeOutput } from '../scopes/outputs.js';
import type { DirectConversation } from './service.js';

/** A direct conversation: its scope (kind dm) and who is in it. */
export const DirectConversationOutput = z.object({
  scope: ScopeOutput,
  memberIds: z.array(z.guid()),
}) satisfies z.ZodType<DirectConversation>;
