import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { Permission } from '../permissions/flags.js';
import { authedProcedure, publicProcedure, router } from '../trpc.js';
import {
  AttachmentRef,
  AttachmentSchema,
  ClaimInput,
  ClaimSchema,
  CompleteInput,
  CompleteSchema,
  CreateUploadInput,
  DownloadUrlInput,
  DownloadUrlSchema,
  UploadTicketSchema,
} from './schemas.js';

/**
 * The media pipeline's own calls: the bearer token must be the server's service token
 * (`MEDIA_SERVICE_TOKEN`), never a user session.
 * @throws UNAUTHORIZED for any other token.
 */
const serviceProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.svc.media.isServiceToken(ctx.token)) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'this procedure is for the media pipeline: send its service token' });
  }
  return next();
});

const tags = ['media'];

export const mediaRouter = router({
  /**
   * Step 1 of an upload (Slack's external upload, Matrix's async upload): checks the
   * permission (AttachFiles for a message file, ManageScope for an icon, none for one's
   * avatar), the size limit of the type (images 25 MiB, other files 100 MiB by default) and
   * the caller's quotas (10 uploads waiting to be processed, a daily byte quota), creates a
   * pending attachment and returns `{ attachmentId, url, fields, expiresAt, maxBytes }`: a
   * presigned POST whose policy fixes the key, the Content-Type and a content-length-range
   * of exactly `size` bytes (the pipeline fails a stored file of any other size). Send `fields` then the file (`file`) as multipart/form-data to
   * `url`, then pass `attachmentId` to `messages.send` (at once: the message shows it
   * pending until the pipeline's `attachment.updated` event).
   * Errors: BAD_REQUEST for a bad type, a size over the limit, an avatar or icon that is
   * not an image; TOO_MANY_REQUESTS past a quota (the message names it); FORBIDDEN
   * without the permission; NOT_FOUND for an unknown scope.
   */
  createUpload: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/media/uploads', protect: true, tags } })
    .input(CreateUploadInput)
    .output(UploadTicketSchema)
    .mutation(async ({ ctx, input }) => {
      const scopeId = input.scopeId ?? null;
      if (input.purpose === 'message') await ctx.svc.access.require(ctx.user.id, scopeId!, Permission.SendMessages | Permission.AttachFiles);
      if (input.purpose === 'icon') await ctx.svc.access.require(ctx.user.id, scopeId!, Permission.ManageScope);
      return ctx.svc.media.createUpload(ctx.user.id, { ...input, scopeId });
    }),

  /**
   * One attachment (ids and metadata, no URL): for its conversation's members once sent,
   * for its uploader before. Errors: NOT_FOUND for an unknown id or one the caller may not see.
   */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/media/{attachmentId}', protect: true, tags } })
    .input(AttachmentRef)
    .output(AttachmentSchema)
    .query(({ ctx, input }) => ctx.svc.media.get(ctx.user.id, input.attachmentId)),

  /**
   * A presigned GET for a ready attachment, `{ url, expiresAt, contentType, disposition }`,
   * valid for at most 5 minutes (MEDIA_DOWNLOAD_TTL_SEC): ask again when it expires, as
   * with Discord's signed CDN URLs. `variant`: `original` (default) or an image's `160`,
   * `640`, `1280` WebP. Raster images are served inline; every other file (SVG and HTML
   * too) as an attachment with its sniffed type.
   * Errors: NOT_FOUND for an unknown attachment or one in a conversation the caller cannot
   * view (a non-member, someone who left); CONFLICT while it is still being processed;
   * BAD_REQUEST when it failed, or for a variant of a file.
   */
  downloadUrl: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/media/{attachmentId}/url', protect: true, tags } })
    .input(DownloadUrlInput)
    .output(DownloadUrlSchema)
    .query(({ ctx, input }) => ctx.svc.media.downloadUrl(ctx.user.id, input.attachmentId, input.variant)),

  /**
   * Internal (the pipeline handler, with the service token): claims the upload at `key`
   * before processing it. `{ claimed: false, reason }` for a duplicate or late S3 event.
   * Errors: UNAUTHORIZED without the service token.
   */
  claim: serviceProcedure
    .meta({ openapi: { method: 'POST', path: '/internal/media/claim', protect: true, tags: ['internal'] } })
    .input(ClaimInput)
    .output(ClaimSchema)
    .mutation(({ ctx, input }) => ctx.svc.media.claim(input.key)),

  /**
   * Internal: the pipeline's result, `ready` with metadata or `failed` with a reason a
   * person can read. Emits `attachment.updated` (with a seq) to the conversation when the
   * attachment is on a message. Only a claimed attachment changes (`changed: false` otherwise).
   * Errors: UNAUTHORIZED without the service token; NOT_FOUND for an unknown id.
   */
  complete: serviceProcedure
    .meta({ openapi: { method: 'POST', path: '/internal/media/{attachmentId}/complete', protect: true, tags: ['internal'] } })
    .input(CompleteInput)
    .output(CompleteSchema)
    .mutation(({ ctx, input }) => ctx.svc.media.complete(input.attachmentId, input.result)),

  /**
   * Internal: gives a claim back after a transient failure so a retried event can run it.
   * Errors: UNAUTHORIZED without the service token.
   */
  release: serviceProcedure
    .meta({ openapi: { method: 'POST', path: '/internal/media/{attachmentId}/release', protect: true, tags: ['internal'] } })
    .input(AttachmentRef)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.svc.media.release(input.attachmentId);
      return { ok: true as const };
    }),
});
