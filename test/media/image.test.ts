import sharp from 'sharp';
import { rgbaToThumbHash, thumbHashToRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { processImage, ImageRejected } from '../../src/lambda/image.js';
import { stripJpegMetadata } from '../../src/lambda/jpeg.js';
import { contentDisposition, servedFileType, attachmentIdOfKey, cleanFilename, formatBytes, overLimit } from '../../src/media/rules.js';
import { hasGpsIfd, pngBomb } from './fixtures.js';

const LIMIT = { limitInputPixels: 50_000_000 };

/** An upright (orientation 1) JPEG with GPS EXIF, XMP and a comment-free body. */
async function uprightGpsJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 30, g: 160, b: 90 }, noise: { type: 'gaussian', mean: 100, sigma: 20 } } })
    .jpeg({ quality: 80 })
    .withExif({ IFD0: { Make: 'TestCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 0/1' } })
    .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
    .toBuffer();
}

describe('processImage (the handler\'s image work)', () => {
  it('an upright JPEG keeps its exact pixels and loses every metadata segment', async () => {
    const input = await uprightGpsJpeg();
    const inMeta = await sharp(input).metadata();
    expect(hasGpsIfd(inMeta.exif)).toBe(true);
    expect(inMeta.xmp).toBeDefined();
    const out = await processImage(input, 'image/jpeg', LIMIT);
    const meta = await sharp(out.display.body).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(out.display.body.includes(Buffer.from('GPS'))).toBe(false);
    const [a, b] = await Promise.all([sharp(input).raw().toBuffer(), sharp(out.display.body).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
    expect(out.display.body.length).toBeLessThan(input.length);
  });

  it('the ThumbHash (from 32 px) decodes to the placeholder a 100 px input gives, within a few levels', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="2048" height="1536"><rect width="100%" height="100%" fill="#2a6"/>' +
        '<circle cx="600" cy="600" r="460" fill="#e22"/><rect x="1230" y="850" width="610" height="540" fill="#fd0"/></svg>',
    );
    const input = await sharp(svg).jpeg({ quality: 90 }).toBuffer();
    const out = await processImage(input, 'image/jpeg', LIMIT);
    const small = out.variants.find((v) => v.name === '160')!.body;
    const { data, info } = await sharp(small).resize({ width: 100, height: 100, fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const reference = thumbHashToRGBA(rgbaToThumbHash(info.width, info.height, data));
    const ours = thumbHashToRGBA(Buffer.from(out.thumbhash, 'base64'));
    expect([ours.w, ours.h]).toEqual([reference.w, reference.h]);
    const worst = Math.max(...Array.from(ours.rgba, (x, i) => Math.abs(x - reference.rgba[i]!)));
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('keeps animation: an animated GIF gives animated WebP variants', async () => {
    const frames = await Promise.all(
      ['red', 'green', 'blue'].map((c) => sharp({ create: { width: 400, height: 300, channels: 3, background: c } }).png().toBuffer()),
    );
    const gif = await sharp(frames, { join: { animated: true } }).gif({ delay: 100 }).toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const out = await processImage(gif, 'image/gif', LIMIT);
    expect(out).toMatchObject({ animated: true, width: 400, height: 300 });
    const v = out.variants.find((x) => x.name === '160')!;
    expect(v).toMatchObject({ width: 160, height: 120 });
    const vMeta = await sharp(v.body, { animated: true }).metadata();
    expect(vMeta).toMatchObject({ format: 'webp', pages: 3, width: 160, pageHeight: 120 });
  });

  it('refuses a 289-megapixel bomb from its header: in well under a second, with bounded memory', async () => {
    const bomb = pngBomb();
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    await expect(processImage(bomb, 'image/png', LIMIT)).rejects.toThrow('the image is 17000 × 17000 pixels, over the limit of 50,000,000 pixels');
    expect(Date.now() - t0).toBeLessThan(1_000);
    // Decoding it would take at least 289 MB (one byte per pixel).
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
  });

  it('refuses truncated data (failOn)', async () => {
    const input = await uprightGpsJpeg();
    await expect(processImage(input.subarray(0, Math.floor(input.length / 2)), 'image/jpeg', LIMIT)).rejects.toThrow(ImageRejected);
  });
});

describe('stripJpegMetadata', () => {
  it('returns null for what is not a well-formed JPEG', () => {
    expect(stripJpegMetadata(Buffer.from('not a jpeg'))).toBeNull();
    expect(stripJpegMetadata(Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff]))).toBeNull();
  });

  it('gives a JPEG without metadata back as it came, and cuts EXIF, XMP and data after EOI', async () => {
    const plain = await sharp({ create: { width: 64, height: 48, channels: 3, background: 'teal' } }).jpeg().toBuffer();
    expect(stripJpegMetadata(plain)!.equals(plain)).toBe(true);
    const trailing = Buffer.concat([plain, Buffer.from('GPS 48.85 N')]);
    expect(stripJpegMetadata(trailing)!.equals(plain)).toBe(true);
    const tagged = await uprightGpsJpeg();
    const cut = stripJpegMetadata(tagged)!;
    expect(cut.includes(Buffer.from('GPS'))).toBe(false);
    expect(cut.includes(Buffer.from('xmpmeta'))).toBe(false);
    const [a, b] = await Promise.all([sharp(tagged).raw().toBuffer(), sharp(cut).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
  });
});

describe('media rules', () => {
  it('serves files by their sniffed type, plain text as declared, anything else as octet-stream', () => {
    expect(servedFileType('application/pdf', 'text/html')).toBe('application/pdf');
    expect(servedFileType(undefined, 'text/plain')).toBe('text/plain');
    expect(servedFileType(undefined, 'text/html')).toBe('application/octet-stream');
    expect(servedFileType(undefined, 'image/svg+xml')).toBe('application/octet-stream');
  });

  it('writes Content-Disposition with an ASCII fallback and an RFC 8187 filename*', () => {
    expect(contentDisposition(false, 'résumé "final".pdf')).toBe(`attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`);
    expect(contentDisposition(true, 'a.png')).toBe(`inline; filename="a.png"; filename*=UTF-8''a.png`);
  });

  it('reads attachment ids only from upload keys', () => {
    expect(attachmentIdOfKey('uploads/0b0c9f4e-6a6e-4d3c-9a55-0f4c1d2e3f4a')).toBe('0b0c9f4e-6a6e-4d3c-9a55-0f4c1d2e3f4a');
    expect(attachmentIdOfKey('media/0b0c9f4e-6a6e-4d3c-9a55-0f4c1d2e3f4a/160.webp')).toBeNull();
    expect(attachmentIdOfKey('uploads/../x')).toBeNull();
  });

  it('cleans filenames and formats sizes', () => {
    expect(cleanFilename('C:\\Users\\me\\pic\u0000.png', 255)).toBe('pic.png');
    expect(cleanFilename('   ', 255)).toBe('file');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MiB');
    expect(formatBytes(900)).toBe('900 bytes');
  });

  it('names a size just over a limit in bytes, where rounding would show the limit itself', () => {
    expect(overLimit(25 * 1024 * 1024 + 1, 25 * 1024 * 1024)).toEqual({ size: '26,214,401 bytes', limit: '25 MiB (26,214,400 bytes)' });
    expect(overLimit(30 * 1024 * 1024, 25 * 1024 * 1024)).toEqual({ size: '30 MiB', limit: '25 MiB' });
  });
});
