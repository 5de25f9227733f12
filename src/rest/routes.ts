import type { AnyProcedure, AnyRouter } from '@trpc/server';
import type { RestMeta } from './meta.js';

export type RestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One REST route: a query or mutation with `meta.openapi`, its path split into segments. */
export interface RestRoute {
  method: RestMethod;
  /** The path relative to `/api`, as declared (`/scopes/{scopeId}/messages`). */
  path: string;
  /** Each segment is a literal or `{name}` (a path parameter). */
  segments: readonly string[];
  /** The tRPC path (`messages.send`). */
  procedurePath: string;
  type: 'query' | 'mutation';
  procedure: AnyProcedure;
}

/** A matched route and its path parameters, decoded. */
export interface RouteMatch {
  route: RestRoute;
  params: Record<string, string>;
}

const split = (path: string) => path.split('/').filter((s) => s.length > 0);
const isParam = (segment: string) => segment.startsWith('{') && segment.endsWith('}');

/**
 * The REST routes of a router: every query and mutation whose meta has `openapi`
 * (trpc-to-openapi's meta; `enabled: false` leaves it out), generically, so a procedure
 * another domain adds with its meta appears under `/api` with no edit here.
 * Subscriptions are never REST (their wire is SSE on `/trpc`, see README).
 */
export class RestRoutes {
  private readonly routes: RestRoute[] = [];

  constructor(router: AnyRouter) {
    const procedures = router._def.procedures as Record<string, AnyProcedure>;
    for (const [procedurePath, procedure] of Object.entries(procedures)) {
      const openapi = (procedure._def.meta as RestMeta | undefined)?.openapi;
      const type = procedure._def.type;
      if (!openapi || openapi.enabled === false || type === 'subscription') continue;
      this.routes.push({ method: openapi.method, path: openapi.path, segments: split(openapi.path), procedurePath, type, procedure });
    }
    // Literal segments before parameters, as OpenAPI 3 matches concrete paths first:
    // GET /events/instances is not GET /events/{eventId}.
    this.routes.sort((a, b) => specificity(b) - specificity(a));
  }

  /** Every route, for the route table and tests. */
  all(): readonly RestRoute[] {
    return this.routes;
  }

  /**
   * The route of a method and path (below `/api`), or `{ allowed }`: the methods the path
   * has (empty when no route has it).
   * @throws URIError for a path parameter with a malformed %-escape.
   */
  match(method: string, path: string): RouteMatch | { allowed: RestMethod[] } {
    const parts = split(path);
    const allowed: RestMethod[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { route, params };
      if (!allowed.includes(route.method)) allowed.push(route.method);
    }
    return { allowed };
  }
}

/** Literal segments weigh by position, so the first differing segment decides. */
function specificity(route: RestRoute): number {
  let score = 0;
  route.segments.forEach((s, i) => {
    if (!isParam(s)) score += 2 ** (16 - i);
  });
  return score;
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (isParam(p)) params[p.slice(1, -1)] = decodeURIComponent(parts[i]!);
    else if (p !== parts[i]) return null;
  }
  return params;
}
