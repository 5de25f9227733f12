import type { OpenApiMeta } from 'trpc-to-openapi';

/**
 * The meta every procedure may carry: `meta.openapi` places a query or mutation in the
 * REST view under `/api` (trpc-to-openapi reads it at run time).
 *
 * It restates trpc-to-openapi's `OpenApiMeta` field by field rather than naming it,
 * because the meta type is part of `AppRouter`: naming the library's type would make the
 * SDK's published `.d.ts` import trpc-to-openapi (and through it zod). The two header
 * fields that take zod objects are left out for the same reason. `Assignable` below
 * fails to compile if this stops being a valid `OpenApiMeta`.
 */
export type RestMeta = {
  openapi?: {
    enabled?: boolean;
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
    /** Relative to `/api`, with `{param}` placeholders, e.g. `/polls/{pollId}/votes`. */
    path: `/${string}`;
    operationId?: string;
    summary?: string;
    description?: string;
    /** Needs a bearer token. */
    protect?: boolean;
    tags?: string[];
    contentTypes?: ('application/json' | 'application/x-www-form-urlencoded' | (string & {}))[];
    deprecated?: boolean;
    successDescription?: string;
    errorResponses?: number[] | Record<number, string>;
  };
};

type Assignable<T extends OpenApiMeta> = T;
export type CheckedRestMeta = Assignable<RestMeta>;
