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
 */
export async function historyFloor(members: JoinedSeqs, access: Pick<Access, 'scope' | 'isOwner'>, userId: string): Promise<number> {
  if (!joinFloorApplies(access)) return 0;
  return members.joinedSeq(access.scope.id, userId);
}

/**
 * Whether the caller's floor is the seq of their member.joined (historyVisibility
 * `joined`, not an owner) rather than 0; for reads that look the join up in their own
 * statement (messages/list-sql.ts).
 */
export function joinFloorApplies(access: Pick<Access, 'scope' | 'isOwner'>): boolean {
  return access.scope.historyVisibility === 'joined' && !access.isOwner;
}
