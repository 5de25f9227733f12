import type { Services } from '../app.js';
import type { Scope } from '../scopes/types.js';
import { AccessRevokedError } from './feed.js';
import { guarded, type Guard } from './guard.js';
import { concernsPath } from './hub.js';

/**
 * A guard that ends a subscription with FORBIDDEN once `userId` no longer holds `flags`
 * in `scope` (left, kicked, banned, a role or overwrite changed, the scope deleted): it
 * re-checks on every access notice that concerns the user and the scope's path, from
 * any instance (ScopeHub.accessChanged), as a conversation feed does.
 */
export function accessGuard(svc: Services, userId: string, scope: Scope, flags: bigint): Guard {
  const path = [...scope.path, scope.id];
  return (end) =>
    svc.hub.watchAccess({
      concerns: (change) => concernsPath(change, userId, path),
      recheck: async () => {
        const allowed = await svc.access.allows(userId, scope.id, flags).catch((err: unknown) => {
          svc.log.warn({ err, userId, scopeId: scope.id }, 'access re-check failed; ending the subscription');
          return false;
        });
        if (!allowed) end(new AccessRevokedError());
      },
    });
}

/**
 * A subscription bound to one scope: it ends with FORBIDDEN when the caller's access to
 * it ends (`accessGuard`). Every scope-bound subscription goes through this (typing, and
 * anything added later); conversation feeds re-check through the hub themselves.
 */
export function scopeBound<T>(svc: Services, o: { userId: string; scope: Scope; flags: bigint }, data: AsyncIterable<T>): AsyncIterable<T> {
  return guarded(data, accessGuard(svc, o.userId, o.scope, o.flags)) as AsyncIterable<T>;
}
