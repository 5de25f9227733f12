/**
 * The REST meta of a procedure (`.meta({ openapi: { … } })`): trpc-to-openapi's
 * `OpenApiMeta`, spelled out here because the router type, meta type included, ships in
 * the SDK's .d.ts, which may import only @trpc packages. src/rest/openapi.ts checks that it
 * stays assignable to trpc-to-openapi's type. This file imports nothing.
 */
export interface RestMeta {
  [key: string]: unknown;
  openapi?: {
    /** false leaves the procedure out of `/api` and `/openapi.json`. */
    enabled?: boolean;
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
    /** Relative to `/api`; `{name}` is a path parameter, a field of the input. */
    path: `/${string}`;
    operationId?: string;
    summary?: string;
    description?: string;
    /** Needs the bearer token (default true). */
    protect?: boolean;
    tags?: string[];
    contentTypes?: ('application/json' | (string & {}))[];
    deprecated?: boolean;
    successDescription?: string;
    errorResponses?: number[] | Record<number, string>;
  };
}
