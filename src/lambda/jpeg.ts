/**
 * Lossless metadata removal for JPEG (ITU T.81 marker syntax): keeps the image data and
 * what decoding needs, drops every metadata segment. Used for the full image when no
 * rotation is needed, so the original pixels are served untouched (no re-encode, no
 * generation loss) and the pipeline skips a full decode and encode.
 *
 * Kept: APP0 (JFIF), APP2 (ICC profile: colours, not personal data), APP14 (Adobe: colour
 * transform), tables, frame and scan headers, entropy-coded data, restart markers.
 * Dropped: APP1 (EXIF with GPS, XMP), APP3–APP13 (IPTC, Photoshop…), APP15, COM, and
 * anything after EOI (trailing data some cameras and tools append).
 * @returns the cleaned bytes (the input itself when there was nothing to drop), or null
 *   when the stream is not a well-formed JPEG (the caller then re-encodes with sharp).
 */
export function stripJpegMetadata(input: Buffer): Buffer | null {
  if (input.length < 4 || input[0] !== 0xff || input[1] !== 0xd8) return null;
  const parts: Buffer[] = [input.subarray(0, 2)];
  let changed = false;
  let i = 2;
  while (i < input.length) {
    if (input[i] !== 0xff) return null;
    // Fill bytes (0xFF padding) before a marker are allowed.
    while (input[i] === 0xff && input[i + 1] === 0xff) {
      i++;
      changed = true;
    }
    const marker = input[i + 1];
    if (marker === undefined) return null;
    if (marker === 0xd9) {
      if (!changed && i + 2 === input.length) return input;
      parts.push(input.subarray(i, i + 2));
      return Buffer.concat(parts);
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      parts.push(input.subarray(i, i + 2));
      i += 2;
      continue;
    }
    if (i + 4 > input.length) return null;
    const length = input.readUInt16BE(i + 2);
    const end = i + 2 + length;
    if (length < 2 || end > input.length) return null;
    const drop = (marker >= 0xe1 && marker <= 0xef && marker !== 0xe2 && marker !== 0xee) || marker === 0xfe;
    if (drop) changed = true;
    else parts.push(input.subarray(i, end));
    i = end;
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart
      // (Buffer.indexOf finds each 0xFF natively: the scan is most of a JPEG's bytes).
      let j = i;
      for (;;) {
        j = input.indexOf(0xff, j);
        if (j === -1) return null;
        const next = input[j + 1];
        if (next === undefined) return null;
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
        j++;
      }
      parts.push(input.subarray(i, j));
      i = j;
    }
  }
  return null; // no EOI
}
