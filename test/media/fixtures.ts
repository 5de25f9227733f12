import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A 300 × 200 JPEG with EXIF orientation 6 (shows as 200 × 300), a camera make and a GPS position. */
export async function gpsJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 50, b: 50 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'TestCam' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toBuffer();
}

/** True when an EXIF block holds a GPS IFD pointer (tag 0x8825, little-endian as sharp writes it). */
export const hasGpsIfd = (exif: Buffer | undefined) => !!exif && exif.includes(Buffer.from([0x25, 0x88]));

/** A small PNG. */
export function png(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 10, g: 120, b: 200, alpha: 1 } } }).png().toBuffer();
}

/** A TIFF (to be declared as image/png). */
export function tiff(): Promise<Buffer> {
  return sharp({ create: { width: 32, height: 32, channels: 3, background: 'green' } }).tiff().toBuffer();
}

/**
 * A decompression bomb: a valid 1-bit grayscale PNG of `side` × `side` pixels (17,000² =
 * 289 megapixels) whose zero-filled rows deflate to a few tens of kilobytes.
 */
export function pngBomb(side = 17_000): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const rowBytes = 1 + Math.ceil(side / 8);
  const raw = Buffer.alloc(rowBytes * side); // filter byte 0 and black pixels on every row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal PDF (its `%PDF-` signature is what file-type reads). */
export const pdf = () => Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

/** Sends a file to a presigned POST the way a browser form does: the fields, then `file`. */
export async function postUpload(ticket: { url: string; fields: Record<string, string> }, body: Buffer, type: string): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(ticket.fields)) form.append(k, v);
  form.append('file', new Blob([body], { type }), 'upload');
  const res = await fetch(ticket.url, { method: 'POST', body: form });
  if (res.status >= 300) throw new Error(`upload refused: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  return res;
}
