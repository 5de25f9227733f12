import { z } from 'zod';
import { AttachmentRef, AttachmentSchema } from '../media/schemas.js';
import { UserId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';

export const usersRouter = router({
  /**
   * Makes an uploaded image the caller's avatar (upload it with `media.createUpload`,
   * `purpose: 'avatar'`; it goes through the same pipeline: checked, stripped, resized).
   * The previous avatar's objects are deleted by the cleanup job. Returns the attachment;
   * fetch it with `media.downloadUrl` (any signed-in user may).
   * Errors: NOT_FOUND for an unknown or someone else's upload; BAD_REQUEST for an upload
   * made for another purpose, or one that failed.
   */
  setAvatar: authedProcedure
    .meta({ openapi: { method: 'PUT', path: '/users/me/avatar', protect: true, tags: ['users'] } })
    .input(AttachmentRef)
    .output(AttachmentSchema)
    .mutation(({ ctx, input }) => ctx.svc.media.setAvatar(ctx.user.id, input.attachmentId)),

  /** A user's current avatar (null when none). Errors: UNAUTHORIZED. */
  avatar: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/users/{userId}/avatar', protect: true, tags: ['users'] } })
    .input(z.object({ userId: UserId }))
    .output(AttachmentSchema.nullable())
    .query(({ ctx, input }) => ctx.svc.media.avatarOf(input.userId)),
});
