import { z } from 'zod';
import { limits } from '../config.js';
import { MIME_PATTERN } from './rules.js';

// Not imported from scopes/router.ts: that router imports these schemas (scopes.setIcon).
const ScopeId = z.uuid({ message: 'scopeId must be a scope id (uuid)' });
export const AttachmentId = z.uuid({ message: 'attachmentId must be an attachment id (uuid)' });
const VariantNameSchema = z.enum(['160', '640', '1280']);

/** A MIME type as sent by a browser: parameters dropped, lowercased, then checked. */
const ContentType = z
  .string()
  .max(255)
  .transform((t) => t.split(';')[0]!.trim().toLowerCase())
  .pipe(z.string().regex(MIME_PATTERN, 'contentType must be a MIME type such as image/png or application/pdf'));

export const CreateUploadInput = z
  .object({
    /** `message` (default): a file for a message of `scopeId`; `avatar`: the caller's avatar (no scopeId); `icon`: `scopeId`'s icon. */
    purpose: z.enum(['message', 'avatar', 'icon']).default('message'),
    scopeId: ScopeId.optional(),
    filename: z.string().trim().min(1, 'filename must not be empty').max(limits.mediaFilenameMax),
    contentType: ContentType,
    /** The file's size in bytes. */
    size: z.number().int().min(1, 'size must be at least 1 byte').max(Number.MAX_SAFE_INTEGER),
  })
  .refine((i) => (i.purpose === 'avatar') === (i.scopeId === undefined), {
    message: 'give scopeId for a message file or an icon, and none for an avatar',
    path: ['scopeId'],
  });

export const DownloadUrlInput = z.object({
  attachmentId: AttachmentId,
  /** `original` (default): the full image or the file; `160`, `640`, `1280`: a WebP variant of an image. */
  variant: z.enum(['original', '160', '640', '1280']).default('original'),
});

export const AttachmentRef = z.object({ attachmentId: AttachmentId });

export const AttachmentSchema = z.object({
  id: z.string(),
  purpose: z.enum(['message', 'avatar', 'icon']),
  scopeId: z.string().nullable(),
  messageId: z.string().nullable(),
  ownerId: z.string(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number(),
  status: z.enum(['pending', 'ready', 'failed']),
  failureReason: z.string().nullable(),
  isImage: z.boolean(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  animated: z.boolean(),
  thumbhash: z.string().nullable(),
  variants: z.array(z.object({ name: VariantNameSchema, width: z.number(), height: z.number(), size: z.number() })),
  createdAt: z.date(),
});

export const UploadTicketSchema = z.object({
  attachmentId: z.string(),
  url: z.string(),
  fields: z.record(z.string(), z.string()),
  expiresAt: z.date(),
  maxBytes: z.number(),
});

export const DownloadUrlSchema = z.object({
  url: z.string(),
  expiresAt: z.date(),
  contentType: z.string(),
  disposition: z.enum(['inline', 'attachment']),
});

// ---- internal: the pipeline handler's calls

export const ClaimInput = z.object({ key: z.string().min(1).max(1024) });
export const ClaimSchema = z.discriminatedUnion('claimed', [
  z.object({ claimed: z.literal(false), reason: z.string(), settled: z.boolean() }),
  z.object({
    claimed: z.literal(true),
    attachmentId: z.string(),
    declaredType: z.string(),
    declaredSize: z.number(),
    maxBytes: z.number(),
    limitInputPixels: z.number(),
  }),
]);

const StoredVariantSchema = z.object({
  name: VariantNameSchema,
  key: z.string().max(1024),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  size: z.number().int().min(0),
  contentType: z.string().max(255),
});

export const CompleteInput = z.object({
  attachmentId: AttachmentId,
  result: z.discriminatedUnion('status', [
    z.object({
      status: z.literal('ready'),
      contentType: z.string().max(255),
      size: z.number().int().min(0),
      fileKey: z.string().max(1024).optional(),
      image: z
        .object({
          displayKey: z.string().max(1024),
          width: z.number().int().min(1),
          height: z.number().int().min(1),
          animated: z.boolean(),
          thumbhash: z.string().max(200),
          variants: z.array(StoredVariantSchema).max(3),
        })
        .optional(),
    }),
    z.object({ status: z.literal('failed'), reason: z.string().min(1).max(500) }),
  ]),
});
export const CompleteSchema = z.object({ changed: z.boolean(), attachment: AttachmentSchema });
