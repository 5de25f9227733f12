/** Kinds of scope, root to leaf: community → group (nests as subgroups) → room; dm stands alone. */
export type ScopeKind = 'community' | 'group' | 'room' | 'dm';
/** public: anyone in the parent may join; private: by invitation; secret: invisible to non-members. */
export type Visibility = 'public' | 'private' | 'secret';

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
  createdAt: Date;
  /** seq of the latest event in this scope's conversation (0 when empty). */
  lastSeq: number;
  messageCount: number;
  lastMessageAt: Date | null;
}
