/**
 * The SQL condition that an access stamp (AccessService.requireStamped / rememberedStamp)
 * still holds for the scope row `alias`: the scope is live, still under the stamped
 * community, and that community's `perm_version` is still the stamped one (every change of
 * access bumps it, drizzle/0006). A statement that acts on an answer given from memory
 * puts this in its own snapshot: the plain send (messages/send-sql.ts), the history page
 * (messages/list-sql.ts).
 * @param alias the `scopes` row of the scope acted on; @param root, @param version the
 *   statement's placeholders for the stamp's community id (uuid) and perm_version (bigint).
 */
export function stampHolds(alias: string, root: string, version: string): string {
  return `(${alias}.deleted_at is null and coalesce(${alias}.path[1], ${alias}.id) = ${root}::uuid
          and (select r.perm_version from scopes r where r.id = ${root}::uuid) = ${version}::bigint)`;
}
