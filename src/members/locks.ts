import { sql } from 'drizzle-orm';
import type { Tx } from '../audit/actor.js';

/**
 * The lock order of every transaction that writes memberships: first the scope rows the
 * transaction will write, ancestors before descendants (`depth`, then `id`), then any
 * other row. A membership change writes the community row (the `perm_version` bump), the
 * `last_seq` row of each scope it announces in (`member.joined` / `member.left`), and
 * after them read marks, user streams and audit rows. A send locks its one scope row
 * first (the seq trigger) and only then read marks and user streams, so the two orders
 * agree and neither can wait on the other in a cycle (issue "Deadlocks under load":
 * without this, a removal held the member's read mark and user stream while waiting for
 * the room's `last_seq`, which a send held while waiting for them).
 * `FOR NO KEY UPDATE` is the lock the seq trigger's and the bump's UPDATE take.
 * @param subtree also lock every scope below `scopeId` (a removal cascades there).
 */
export async function lockScopesForMembership(tx: Tx, scopeId: string, subtree: boolean): Promise<void> {
  await tx.execute(sql`
    select 1 from scopes
     where id = ${scopeId}
        or id = (select coalesce(path[1], id) from scopes where id = ${scopeId})
        ${subtree ? sql`or path @> array[${scopeId}::uuid]` : sql``}
     order by depth, id
       for no key update`);
}
