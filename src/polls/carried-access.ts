import { AppError, notFound } from '../errors.js';
import type { AccessService } from '../permissions/service.js';

/**
 * `access.require` for a poll or survey, whose scope the caller did not name: a caller who
 * cannot see the scope gets NOT_FOUND naming the poll or survey (`what`, e.g. "poll <id>"),
 * never the scope it lives in, so an id reveals nothing to a stranger (as Discord answers
 * "Unknown Message" for a message of a channel you cannot see).
 * @throws NotFound as above; Forbidden (and the rest) as `access.require` raises them.
 */
export async function requireCarried(access: AccessService, userId: string, scopeId: string, flags: bigint, what: string): Promise<void> {
  try {
    await access.require(userId, scopeId, flags);
  } catch (err) {
    if (err instanceof AppError && err.code === 'NotFound') throw notFound(`${what} not found`);
    throw err;
  }
}
