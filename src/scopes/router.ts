import { z } from 'zod';
import { limits } from '../config.js';
import { authedProcedure, router } from '../trpc.js';
import { DeletedScopesOutput, ScopeOutput, ScopeTreeOutput } from './outputs.js';
import { AttachmentId, AttachmentSchema } from '../media/schemas.js';
import { Permission } from '../permissions/flags.js';

/** A scope id (uuid) under the field name `field`, which its error message names (`rootId must be a scope id (uuid)`). */
export const scopeIdNamed = (field: string) => z.uuid({ message: `${field} must be a scope id (uuid)` });
/** A user id (uuid) under the field name `field`, which its error message names. */
export const userIdNamed = (field: string) => z.uuid({ message: `${field} must be a user id (uuid)` });
/** The id of a scope (uuid), as the field `scopeId`. */
export const ScopeId = scopeIdNamed('scopeId');
/** Any id of a user (uuid), as the field `userId`. */
export const UserId = userIdNamed('userId');

const Name = z.string().trim().min(1, 'name must not be empty').max(limits.scopeNameMax, `name must be at most ${limits.scopeNameMax} characters`);
const Description = z.string().max(limits.scopeDescriptionMax, `description must be at most ${limits.scopeDescriptionMax} characters`);
const VisibilityInput = z.enum(['public', 'private', 'secret']);

/** A scope's settings: at most 50 keys of up to 64 characters; values are short strings, numbers, booleans or null. */
export const ScopeSettingsInput = z
  .record(
    z.string().min(1).max(limits.scopeSettingsKeyMax),
    z.union([z.string().max(limits.scopeSettingsValueMax), z.number().finite(), z.boolean(), z.null()]),
  )
  .refine((o) => Object.keys(o).length <= limits.scopeSettingsMaxKeys, `settings hold at most ${limits.scopeSettingsMaxKeys} keys`);

/** `shared` (all history, the default) or `joined` (only what came after a member joined), as Matrix's history_visibility. */
export const HistoryVisibilityInput = z.enum(['shared', 'joined'], { message: "historyVisibility is 'shared' or 'joined'" });
export const CreateScopeInput = z.object({
  kind: z.enum(['community', 'group', 'room']),
  parentId: scopeIdNamed('parentId').optional(),
  name: Name,
  description: Description.optional(),
  visibility: VisibilityInput.optional(),
  historyVisibility: HistoryVisibilityInput.optional(),
});
export const GetScopeInput = z.object({ scopeId: ScopeId });
export const UpdateScopeInput = z.object({
  scopeId: ScopeId,
  name: Name.optional(),
  description: Description.optional(),
  visibility: VisibilityInput.optional(),
  historyVisibility: HistoryVisibilityInput.optional(),
  settings: ScopeSettingsInput.optional(),
});
export const MoveScopeInput = z.object({ scopeId: ScopeId, parentId: scopeIdNamed('parentId') });
export const ArchiveScopeInput = z.object({ scopeId: ScopeId, archived: z.boolean().default(true) });
export const DeleteScopeInput = z.object({ scopeId: ScopeId });
export const ScopeTreeInput = z.object({ rootId: scopeIdNamed('rootId') });

export const scopesRouter = router({
  /**
   * Creates a community (no parent), a group (parent: community or group) or a room
   * (parent: community or group): `{ kind, name, parentId?, description?, visibility? }`,
   * with `parentId` required for a group or a room. A community's creator becomes its
   * owner; a group's creator its owner; a room's creator a member. Needs CreateChildScopes
   * in the parent.
   * Errors: BAD_REQUEST for wrong nesting, depth (6 levels) or too many children (500);
   * NOT_FOUND for an unknown or hidden parent; FORBIDDEN without CreateChildScopes.
   */
  create: authedProcedure
    .input(CreateScopeInput)
    .output(ScopeOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes', tags: ['scopes'], summary: 'Create a community, group or room' } })
    .mutation(({ ctx, input }) => ctx.svc.scopes.create(ctx.user.id, input)),

  /** A scope the caller may see: a member's, or a public one they could join. Errors: NOT_FOUND. */
  get: authedProcedure
    .input(GetScopeInput)
    .output(ScopeOutput)
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}', tags: ['scopes'], summary: 'One scope' } })
    .query(({ ctx, input }) => ctx.svc.scopes.view(ctx.user.id, input.scopeId)),

  /**
   * Changes name, description, visibility, historyVisibility or settings; omitted fields
   * stay (a historyVisibility change ends open subscriptions of the scope, to be reopened
   * under the new rule). Needs
   * ManageScope. Returns the scope. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  update: authedProcedure
    .input(UpdateScopeInput)
    .output(ScopeOutput)
    .meta({ openapi: { method: 'PATCH', path: '/scopes/{scopeId}', tags: ['scopes'], summary: 'Change name, description, visibility or settings' } })
    .mutation(({ ctx, input }) => ctx.svc.scopes.update(ctx.user.id, input)),

  /**
   * Moves a group or room under `parentId` in the same community; the whole subtree
   * follows. Needs ManageScope in the scope and CreateChildScopes in the new parent.
   * Errors: BAD_REQUEST (under itself or a descendant, another community, too deep),
   * NOT_FOUND, FORBIDDEN.
   */
  move: authedProcedure
    .input(MoveScopeInput)
    .output(ScopeOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/move', tags: ['scopes'], summary: 'Move a group or room under another parent' } })
    .mutation(({ ctx, input }) => ctx.svc.scopes.move(ctx.user.id, input)),

  /**
   * Archives (`archived: true`, the default) or restores a scope; an archived scope and
   * its subtree are read-only (no sends, reactions, pins, polls, events). Needs ManageScope.
   */
  archive: authedProcedure
    .input(ArchiveScopeInput)
    .output(ScopeOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/archive', tags: ['scopes'], summary: 'Archive or restore a scope' } })
    .mutation(({ ctx, input }) => ctx.svc.scopes.archive(ctx.user.id, input)),

  /**
   * Soft-deletes a scope with its subtree: `{ deleted }` scopes. A community or group:
   * owners only; a room: ManageScope. Errors: NOT_FOUND, FORBIDDEN.
   */
  delete: authedProcedure
    .input(DeleteScopeInput)
    .output(DeletedScopesOutput)
    .meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}', tags: ['scopes'], summary: 'Delete a scope with its subtree' } })
    .mutation(({ ctx, input }) => ctx.svc.scopes.remove(ctx.user.id, input.scopeId)),

  /**
   * The subtree under `rootId` that the caller may see, parents first:
   * `[{ id, kind, parentId, depth, name, visibility, archived, isMember, unreadCount, mentionCount }]`
   * (the counts are the caller's, 0 where not a member).
   * Errors: NOT_FOUND when the root is hidden.
   */
  tree: authedProcedure.input(ScopeTreeInput).output(ScopeTreeOutput).meta({ openapi: { method: 'GET', path: '/scopes/{rootId}/tree', tags: ['scopes'], summary: 'The visible subtree with unread counts' } }).query(async ({ ctx, input }) => {
    const nodes = await ctx.svc.scopes.tree(ctx.user.id, input.rootId);
    const ids = nodes.filter((n) => n.isMember).map((n) => n.id);
    const counts = new Map((await ctx.svc.readStates.unreadFor(ctx.user.id, ids)).map((r) => [r.scopeId, r]));
    return nodes.map((n) => ({ ...n, unreadCount: counts.get(n.id)?.unreadCount ?? 0, mentionCount: counts.get(n.id)?.mentionCount ?? 0 }));
  }),

  /**
   * Makes an uploaded image the scope's icon (upload it with `media.createUpload`,
   * `purpose: 'icon'` and this scopeId; the same pipeline checks, strips and resizes it).
   * Needs ManageScope. The previous icon's objects are deleted by the cleanup job.
   * Returns the attachment. Errors: FORBIDDEN; NOT_FOUND for an unknown scope or upload
   * (or one of another user or scope); BAD_REQUEST for another purpose or a failed upload.
   */
  setIcon: authedProcedure
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/icon', protect: true, tags: ['scopes'] } })
    .input(z.object({ scopeId: ScopeId, attachmentId: AttachmentId }))
    .output(AttachmentSchema)
    .mutation(async ({ ctx, input }) => {
      await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.ManageScope);
      return ctx.svc.media.setIcon(ctx.user.id, input.scopeId, input.attachmentId);
    }),

  /** The scope's current icon (null when none). Errors: NOT_FOUND, FORBIDDEN for a scope the caller cannot view. */
  icon: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/icon', protect: true, tags: ['scopes'] } })
    .input(z.object({ scopeId: ScopeId }))
    .output(AttachmentSchema.nullable())
    .query(async ({ ctx, input }) => {
      await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View);
      return ctx.svc.media.iconOf(input.scopeId);
    }),
});
