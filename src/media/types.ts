/** What an attachment is for. */
export type AttachmentPurpose = 'message' | 'avatar' | 'icon';

/** The state clients see: `pending` until the pipeline has checked and processed the upload. */
export type AttachmentStatus = 'pending' | 'ready' | 'failed';

/** One WebP rendition of an image, named for the long side it was made for (never upscaled). */
export interface AttachmentVariant {
  name: '160' | '640' | '1280';
  width: number;
  height: number;
  /** Bytes. */
  size: number;
}

/**
 * A file or image as clients see it: ids and metadata, never a URL (ask `media.downloadUrl`
 * for a presigned GET that expires within 5 minutes, as Discord's signed CDN links do).
 * `contentType` and `size` are the declared ones until the pipeline has sniffed the bytes
 * and measured the stored object; after that they are the real ones.
 */
export interface Attachment {
  id: string;
  purpose: AttachmentPurpose;
  /** The conversation it belongs to (null for an avatar). */
  scopeId: string | null;
  /** The message it is attached to, once sent. */
  messageId: string | null;
  ownerId: string;
  filename: string;
  contentType: string;
  /** Bytes. */
  size: number;
  status: AttachmentStatus;
  /** Why it failed, in words a person can act on (null unless failed). */
  failureReason: string | null;
  /** Images: true for a raster image the pipeline decoded (JPEG, PNG, WebP, GIF, AVIF). */
  isImage: boolean;
  /** Pixels, after auto-orientation (images, once ready). */
  width: number | null;
  height: number | null;
  /** Animated GIF or WebP: its variants keep the animation. */
  animated: boolean;
  /** A ThumbHash (base64) to paint while the image loads. */
  thumbhash: string | null;
  variants: AttachmentVariant[];
  createdAt: Date;
}

/** What `media.createUpload` returns: a presigned POST (send `fields`, then the file as `file`, to `url`). */
export interface UploadTicket {
  attachmentId: string;
  url: string;
  /** Form fields to send before the file, in this order; they include the key and Content-Type. */
  fields: Record<string, string>;
  /** After this the storage refuses the upload. */
  expiresAt: Date;
  /** The largest body the storage accepts for it (bytes): the declared size. */
  maxBytes: number;
}

/** What `media.downloadUrl` returns: a presigned GET. */
export interface DownloadUrl {
  url: string;
  /** At most 5 minutes after the call. */
  expiresAt: Date;
  /** The type it is served as (sniffed from the bytes). */
  contentType: string;
  /** `inline` for a processed raster image; `attachment` for every other file (SVG and HTML included). */
  disposition: 'inline' | 'attachment';
}

/** The attachment in an `attachment.updated` event (its `createdAt` is on the message). */
export type AttachmentUpdate = Omit<Attachment, 'createdAt'>;
