/** Kinds of scope, root to leaf: community → group (nests as subgroups) → room; dm stands alone. */
export type ScopeKind = 'community' | 'group' | 'room' | 'dm';
/**
 * public: visible to, and joinable by, members of the parent (a public community by anyone);
 * private: joined by invite or by a member holding ManageMembers, invisible to non-members;
 * secret: like private, and never listed (a non-member gets NOT_FOUND for both).
 */
export type Visibility = 'public' | 'private' | 'secret';

/**
 * What members see of a scope's conversation, as Matrix's `history_visibility`:
 * `shared` (the default), all of it; `joined`, only what came after they joined.
 */
export type HistoryVisibility = 'shared' | 'joined';

/** A scope's free-form settings: a flat map of small values (bounds in `limits`). */
export type ScopeSettings = Record<string, string | number | boolean | null>;

/** A scope as clients see it. `path` lists ancestor ids, root first. */
export interface Scope {
  id: string;
  kind: ScopeKind;
  parentId: string | null;
  path: string[];
  depth: number;
  name: string;
  description: string;
  visibility: Visibility;
  /** `shared` or `joined` (HistoryVisibility). */
  historyVisibility: HistoryVisibility;
  settings: ScopeSettings;
  createdAt: Date;
  /** Set while the scope is archived (read-only, with its subtree). */
  archivedAt: Date | null;
  /** seq of the latest event in this scope's conversation (0 when empty). */
  lastSeq: number;
  messageCount: number;
  lastMessageAt: Date | null;
}

/** One node of `scopes.tree`. */
export interface TreeNode {
  id: string;
  kind: ScopeKind;
  parentId: string | null;
  depth: number;
  name: string;
  visibility: Visibility;
  /** This scope is archived (read-only with its subtree). */
  archived: boolean;
  /** The caller is a member of this scope. */
  isMember: boolean;
}
