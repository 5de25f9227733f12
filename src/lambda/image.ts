import sharp, { type Metadata, type Sharp } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { stripJpegMetadata } from './jpeg.js';
import { VARIANT_SIZES, type ImageType, type VariantName } from '../media/rules.js';

/** One encoded output of `processImage`. */
export interface EncodedImage {
  body: Buffer;
  contentType: string;
  width: number;
  height: number;
}

/** What `processImage` makes of one upload. */
export interface ProcessedImage {
  /** Pixels after auto-orientation (one frame of an animation). */
  width: number;
  height: number;
  animated: boolean;
  /** Base64 ThumbHash of the first frame. */
  thumbhash: string;
  /** The full image re-encoded in its own format: oriented, every metadata block (EXIF, GPS, XMP, IPTC) gone. */
  display: EncodedImage;
  /** WebP renditions at 160, 640 and 1280 px on the long side, never upscaled. */
  variants: (EncodedImage & { name: VariantName })[];
}

/** A refusal of the image itself (too many pixels, undecodable); the message is for people. */
export class ImageRejected extends Error {
  override name = 'ImageRejected';
}

const ENCODE: Record<ImageType, (s: Sharp) => Sharp> = {
  'image/jpeg': (s) => s.jpeg({ quality: 90 }),
  'image/png': (s) => s.png(),
  'image/webp': (s) => s.webp({ quality: 90 }),
  'image/gif': (s) => s.gif(),
  'image/avif': (s) => s.avif({ quality: 60 }),
};

/**
 * Decodes an image once and writes what the pipeline stores (AWS's Serverless Image
 * Handler does the same work with sharp on Lambda):
 * - `limitInputPixels` is checked from the header before any pixel is decoded (a
 *   17,000 × 17,000 PNG bomb is refused in milliseconds with bounded memory), and sharp
 *   enforces it again while decoding; `failOn: 'error'` refuses truncated or corrupt data.
 * - Auto-orient from EXIF, then no metadata in any output (sharp's default: strip all). A
 *   JPEG that needs no rotation is not re-encoded: its metadata segments are cut out
 *   losslessly (`stripJpegMetadata`), so the full image keeps its original pixels.
 * - Animation policy: animated GIF and WebP keep their animation in the WebP variants and
 *   the re-encoded image (the pixel limit counts every frame); the ThumbHash is taken from
 *   the first frame.
 * @throws ImageRejected for an image over the pixel limit or that does not decode.
 */
export async function processImage(
  input: Buffer,
  type: ImageType,
  opts: { limitInputPixels: number; emit?: (name: 'full' | VariantName, out: EncodedImage) => Promise<void> },
): Promise<ProcessedImage> {
  // Each output is handed to `emit` (the handler's PutObject) as soon as it is encoded, so
  // storage writes overlap the encoding of the others.
  const emit = async <T extends EncodedImage>(name: 'full' | VariantName, out: T): Promise<T> => {
    await opts.emit?.(name, out);
    return out;
  };
  const guard = { limitInputPixels: opts.limitInputPixels, failOn: 'error' as const };
  let meta: Metadata;
  try {
    // The header alone: the pixel count is checked below, with a message that names it.
    meta = await sharp(input, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (err) {
    throw new ImageRejected(`the image could not be read: ${reason(err)}`);
  }
  const pages = meta.pages ?? 1;
  const animated = pages > 1 && (type === 'image/gif' || type === 'image/webp');
  const frameHeight = animated ? (meta.pageHeight ?? meta.height) : meta.height;
  const pixels = meta.width * frameHeight * (animated ? pages : 1);
  if (pixels > opts.limitInputPixels) {
    throw new ImageRejected(
      `the image is ${meta.width} × ${frameHeight} pixels${animated ? ` × ${pages} frames` : ''}, over the limit of ${opts.limitInputPixels.toLocaleString('en')} pixels`,
    );
  }
  const swap = !animated && (meta.orientation ?? 1) >= 5;
  const width = swap ? frameHeight : meta.width;
  const height = swap ? meta.width : frameHeight;
  try {
    // A new instance per output, not `clone()`: sharp's clone deep-copies its options, the
    // input buffer among them (1.3 MB per variant for a 3 MP JPEG, and the collections that
    // follow).
    const open = () => sharp(input, { ...guard, animated, autoOrient: true });
    const long = Math.max(width, height);
    const encode = (size: number) => open().resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer();
    // The largest variant is the longest job and sets when the image is done: it starts
    // first and has a core to itself, while the smaller ones run one after the other beside
    // it (sharp runs each pipeline on one libuv thread, and three at once on two cores share
    // them; bench/README.md, "Media, largest variant first"). 160 px first: the ThumbHash is
    // taken from it.
    const largest = VARIANT_SIZES.length - 1;
    const encoded: Promise<Buffer>[] = [];
    encoded[largest] = encode(VARIANT_SIZES[largest]!);
    let previous: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < largest; i++) {
      const size = VARIANT_SIZES[i]!;
      encoded[i] = previous.then(() => encode(size));
      previous = encoded[i]!.catch(() => {});
    }
    // From the smallest variant (its first frame) as soon as it is encoded, while the larger
    // ones still are: a decode of a few kilobytes, not of the upload.
    const thumbhash = encoded[0]!.then((body) => thumbhashOf(sharp(body)));
    const variants = VARIANT_SIZES.map(async (size, i) => {
      const body = await encoded[i]!;
      const scale = Math.min(1, size / long);
      const name = String(size) as VariantName;
      return emit(name, {
        name,
        body,
        contentType: 'image/webp',
        width: Math.max(1, Math.round(width * scale)),
        height: Math.max(1, Math.round(height * scale)),
      });
    });
    // A JPEG that needs no rotation keeps its pixels: only the metadata segments go.
    const upright = (meta.orientation ?? 1) === 1;
    const lossless = type === 'image/jpeg' && upright ? stripJpegMetadata(input) : null;
    // The full image (its encoding or the write of the cut original, a megabyte or more to
    // storage) joins the queue of the smaller variants: it runs beside the largest variant
    // instead of taking the cores from it.
    const display = previous.then(async () => emit('full', { body: lossless ?? (await ENCODE[type](open()).toBuffer()), contentType: type, width, height }));
    // Every output settles before a failure is thrown, so the caller's cleanup runs after the
    // last write that will ever land.
    const [displayOut, hash, ...variantsOut] = await allSettledOrThrow([display, thumbhash, ...variants]);
    return {
      width,
      height,
      animated,
      thumbhash: hash,
      display: displayOut,
      variants: variantsOut,
    };
  } catch (err) {
    throw new ImageRejected(`the image could not be decoded: ${reason(err)}`);
  }
}

/** Like Promise.all, but waits for every promise to settle, then throws the first rejection. */
async function allSettledOrThrow<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Long side (px) of the RGBA the ThumbHash is computed from. The format takes up to
 * 100 × 100, but it keeps at most 7 cosine terms per axis and decodes to 32 px, so 32 px
 * carry what it stores: the placeholder decoded from either differs by a few levels of 255
 * (test/media/image.test.ts). rgbaToThumbHash's cost grows with the pixel count: ~2 ms at
 * 100 × 75, ~0.1 ms at 32 × 24, on the main thread while sharp still encodes.
 */
const THUMBHASH_INPUT = 32;

/** ThumbHash of the first frame. */
async function thumbhashOf(image: Sharp): Promise<string> {
  const { data, info } = await image
    .resize({ width: THUMBHASH_INPUT, height: THUMBHASH_INPUT, fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
}

function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.replace(/^Input (buffer|file) /, '').slice(0, 200);
}
