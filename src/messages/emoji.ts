/** One Unicode emoji as RGI lists it (Unicode TS #51), with its modifiers. */
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
/** A custom emoji: `:name:`, 2 to 32 letters, digits or `_` (Discord's custom emoji names). */
const CUSTOM_EMOJI = /^:[A-Za-z0-9_]{2,32}:$/;
/** VARIATION SELECTOR-16: asks for the emoji presentation of the character before it. */
const VS16 = '\uFE0F';

/**
 * The one form a reaction emoji is stored and compared in: a custom `:name:` as it is; an
 * RGI emoji as it is; a character that is RGI only with VS16 after it (`❤` U+2764, which
 * keyboards and older clients send for `❤️`) with VS16 added, as RGI's fully-qualified
 * form (UTS #51 §2.8). Null for anything else.
 */
export function canonicalEmoji(e: string): string | null {
  if (CUSTOM_EMOJI.test(e) || RGI_EMOJI.test(e)) return e;
  return RGI_EMOJI.test(e + VS16) ? e + VS16 : null;
}
