import type { Access } from '../permissions/service.js';

/** What the history rule needs of the members domain. */
export interface JoinedSeqs {
  /** The seq of the member.joined of this membership (0 when none). */
  joinedSeq(scopeId: string, userId: string): Promise<number>;
}

/**
 * The history floor of `userId` in a scope: they see no message with seq ≤ floor, and no
 * event about one (edit, delete, reaction, pin), in any read, replay or live event.
 * 0 under historyVisibility `shared` (the default) and for owners (of the scope or an
 * ancestor: they hold everything below); under `joined`, the seq of the member's
 * member.joined, as Matrix's `joined` history visibility: what came after the join.
 * A member who leaves and comes back starts again from the new join.
 * `messages.list` applies the same rule inside its statement (list-sql.ts).
 */
export async function historyFloor(members: JoinedSeqs, access: Pick<Access, 'scope' | 'isOwner'>, userId: string): Promise<number> {
  if (access.scope.historyVisibility !== 'joined' || access.isOwner) return 0;
  return members.joinedSeq(access.scope.id, userId);
}

