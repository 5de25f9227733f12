import { z } from 'zod';
import type { Scope, TreeNode } from './types.js';

export const ScopeKindOutput = z.enum(['community', 'group', 'room', 'dm']);
export const VisibilityOutput = z.enum(['public', 'private', 'secret']);

/** A scope as clients see it (`Scope`); `path` lists ancestor ids, root first. */
export const ScopeOutput = z.object({
  id: z.guid(),
  kind: ScopeKindOutput,
  parentId: z.guid().nullable(),
  path: z.array(z.guid()),
  depth: z.number().int(),
  name: z.string(),
  description: z.string(),
  visibility: VisibilityOutput,
  historyVisibility: z.enum(['shared', 'joined']),
  settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  createdAt: z.date(),
  archivedAt: z.date().nullable(),
  lastSeq: z.number().int(),
  messageCount: z.number().int(),
  lastMessageAt: z.date().nullable(),
}) satisfies z.ZodType<Scope>;

const TreeNodeShape = z.object({
  id: z.guid(),
  kind: ScopeKindOutput,
  parentId: z.guid().nullable(),
  depth: z.number().int(),
  name: z.string(),
  visibility: VisibilityOutput,
  archived: z.boolean(),
  isMember: z.boolean(),
}) satisfies z.ZodType<TreeNode>;

/** `scopes.tree`: the visible subtree, parents first, with the caller's unread and mention counts. */
export const ScopeTreeOutput = z.array(TreeNodeShape.extend({ unreadCount: z.number().int(), mentionCount: z.number().int() }));

/** `scopes.delete`: how many scopes (the scope and its subtree) were deleted. */
export const DeletedScopesOutput = z.object({ deleted: z.number().int() });
