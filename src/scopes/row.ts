import type { scopes } from '../db/schema/index.js';
import type { Scope } from './types.js';

/*
 * The row-to-client mapping of scopes, below both the scope service and the permission
 * helper (which reads scope rows itself), so neither imports the other's module.
 */

export type ScopeRow = typeof scopes.$inferSelect;

/** Maps a row to the client shape (no drizzle type reaches the SDK). */
export function toScope(r: ScopeRow): Scope {
  return {
    id: r.id,
    kind: r.kind,
    parentId: r.parentId,
    path: r.path,
    depth: r.depth,
    name: r.name,
    description: r.description,
    visibility: r.visibility,
    historyVisibility: r.historyVisibility,
    settings: r.settings,
    createdAt: r.createdAt,
    archivedAt: r.archivedAt,
    lastSeq: r.lastSeq,
    messageCount: r.messageCount,
    lastMessageAt: r.lastMessageAt,
  };
}

