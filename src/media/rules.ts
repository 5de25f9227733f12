/**
 * The pure rules of the media domain: which types are images, the size limit of a type,
 * object keys, how a download is served. No I/O; tested without a server.
 */

/** Raster images the pipeline decodes and resizes (sharp). Every other type is a file. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** Long sides of the WebP variants (Mastodon keeps a small and an original; Discord resizes on its CDN). */
export const VARIANT_SIZES = [160, 640, 1280] as const;
export type VariantName = '160' | '640' | '1280';

/** Prefix of uploads: the only prefix the bucket notification matches. */
export const UPLOAD_PREFIX = 'uploads/';
/** Prefix of what the pipeline writes (variants, the re-encoded image); outside the notification's filter. */
export const MEDIA_PREFIX = 'media/';

/** A MIME type without parameters, lowercase (RFC 6838 restricted names). */
export const MIME_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** True for the raster image types the pipeline processes. */
export function isImageType(type: string): type is ImageType {
  return (IMAGE_TYPES as readonly string[]).includes(type);
}

/** The size limit (bytes) that applies to a declared type. */
export function maxBytesFor(type: string, limits: { imageMaxBytes: number; fileMaxBytes: number }): number {
  return isImageType(type) ? limits.imageMaxBytes : limits.fileMaxBytes;
}

/** Where an attachment's upload lands. */
export const uploadKey = (attachmentId: string) => `${UPLOAD_PREFIX}${attachmentId}`;
/** Where one variant of an image goes. */
export const variantKey = (attachmentId: string, name: VariantName) => `${MEDIA_PREFIX}${attachmentId}/${name}.webp`;
/** Where the re-encoded full image (metadata stripped) goes. */
export const displayKey = (attachmentId: string, type: ImageType) => `${MEDIA_PREFIX}${attachmentId}/full.${type.slice('image/'.length)}`;

/**
 * Where a file that is not an image is kept once checked: out of the uploads prefix, so a
 * second POST with the same presigned fields (valid until they expire) replaces nothing
 * that is served.
 */
export const fileKey = (attachmentId: string) => `${MEDIA_PREFIX}${attachmentId}/file`;

/** The attachment id of an upload key, or null for a key outside the uploads prefix. */
export function attachmentIdOfKey(key: string): string | null {
  const m = /^uploads\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(key);
  return m ? m[1]! : null;
}

/** Types a file may be served as when its bytes have no signature (plain text formats). */
const TEXT_TYPES = new Set(['text/plain', 'text/csv', 'text/markdown', 'application/json']);

/**
 * The type a file is served as: the sniffed type when the bytes have a signature; else
 * the declared type when it is plain text; else `application/octet-stream`. So an HTML or
 * SVG file (no binary signature) is never served as `text/html` or `image/svg+xml`.
 */
export function servedFileType(sniffed: string | undefined, declared: string): string {
  if (sniffed) return sniffed;
  return TEXT_TYPES.has(declared) ? declared : 'application/octet-stream';
}

/**
 * `Content-Disposition` of a download (RFC 6266, filename* per RFC 8187). Only processed
 * raster images are `inline`; everything else, SVG and HTML included, is `attachment`,
 * so a browser never renders an uploaded document in our origin's context.
 */
export function contentDisposition(inline: boolean, filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** A filename as stored: no path, no control characters, at most `max` characters. */
export function cleanFilename(name: string, max: number): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return clean.slice(0, max) || 'file';
}

/** Bytes as a person reads them: `25 MiB`, `1.5 KiB`, `900 bytes`. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/**
 * A size over a limit and the limit, both as a person reads them, for a refusal; where
 * rounding would show the same figure for both (`25 MiB` against `25 MiB`), the size in
 * exact bytes and the limit with its bytes beside it (`26,214,401 bytes` against
 * `25 MiB (26,214,400 bytes)`).
 * @param size bytes, over `max`; @param max bytes.
 */
export function overLimit(size: number, max: number): { size: string; limit: string } {
  const [s, l] = [formatBytes(size), formatBytes(max)];
  return s === l ? { size: `${size.toLocaleString('en')} bytes`, limit: `${l} (${max.toLocaleString('en')} bytes)` } : { size: s, limit: l };
}
