import { z } from 'zod';
import type { AnyProcedure, AnyRouter } from '@trpc/server';
import { generateOpenApiDocument, type OpenApiMeta } from 'trpc-to-openapi';
import type { RestMeta } from './meta.js';

/** RestMeta stays what trpc-to-openapi reads. */
const _metaFits = (m: RestMeta): OpenApiMeta => m;
void _metaFits;

type AnySchema = z.core.$ZodType;
type JsonSchema = Record<string, unknown>;

/** How REST carries an instant: RFC 3339 text. */
function dateOverride(ctx: { jsonSchema: JsonSchema }) {
  ctx.jsonSchema.type = 'string';
  ctx.jsonSchema.format = 'date-time';
}

/** How REST carries a bigint (a permissions bitfield): a decimal string. */
function bigintOverride(ctx: { jsonSchema: JsonSchema }) {
  for (const k of ['format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) delete ctx.jsonSchema[k];
  ctx.jsonSchema.type = 'string';
  ctx.jsonSchema.pattern = '^-?[0-9]+$';
  ctx.jsonSchema.description ??= 'a 64-bit integer as a decimal string';
}

/**
 * Gives every `z.date()` and `z.bigint()` reachable from `schema` the JSON Schema of its
 * REST form (src/rest/json.ts), through zod-openapi's `override` meta; zod-openapi would
 * otherwise call a bigint an int64 number and a date a bare string. Meta already set on a
 * schema is kept. Idempotent.
 */
function describeRestForms(schema: AnySchema, seen: Set<AnySchema>): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'date' || def.type === 'bigint') {
    const meta = z.globalRegistry.get(schema) ?? {};
    if (!('override' in meta)) z.globalRegistry.add(schema, { ...meta, override: def.type === 'date' ? dateOverride : bigintOverride });
    return;
  }
  const children: unknown[] = [def.innerType, def.in, def.out, def.element, def.keyType, def.valueType, def.left, def.right, def.rest];
  if (def.shape) children.push(...Object.values(def.shape as Record<string, unknown>));
  if (Array.isArray(def.options)) children.push(...def.options);
  if (Array.isArray(def.items)) children.push(...def.items);
  if (typeof def.getter === 'function') children.push((def.getter as () => unknown)());
  for (const c of children) if (c && typeof c === 'object' && '_zod' in c) describeRestForms(c as AnySchema, seen);
}

export interface OpenApiOptions {
  /** The document's `info.version`. */
  version: string;
}

/**
 * The OpenAPI 3.1 document of the REST view (`/openapi.json`), generated from the
 * procedures' meta, input and output schemas by trpc-to-openapi, never written by hand.
 * Paths are relative to the server entry `/api`; every protected operation takes
 * `Authorization: Bearer <token>` (from `POST /api/auth/sign-in`).
 * @throws TRPCError naming the procedure whose meta or schemas cannot be described.
 */
export function openApiDocument(router: AnyRouter, o: OpenApiOptions): ReturnType<typeof generateOpenApiDocument> {
  const seen = new Set<AnySchema>();
  for (const procedure of Object.values(router._def.procedures as Record<string, AnyProcedure>)) {
    if (!(procedure._def.meta as RestMeta | undefined)?.openapi) continue;
    const def = procedure._def as unknown as { inputs: AnySchema[]; output?: AnySchema };
    for (const s of def.inputs) describeRestForms(s, seen);
    if (def.output) describeRestForms(def.output, seen);
  }
  return generateOpenApiDocument(router, {
    title: 'Guildhall REST API',
    version: o.version,
    description:
      'Every query and mutation of the Guildhall tRPC API as REST with plain JSON. Instants are RFC 3339 strings; ' +
      'permission bitfields are decimal strings. Errors are `{ code, message, issues? }` with the HTTP status of `code`. ' +
      'Live events are not REST: subscribe over Server-Sent Events on `/trpc` (see the README).',
    baseUrl: '/api',
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token of POST /api/auth/sign-in or sign-up' } },
  });
}
