/** One Unicode emoji as RGI lists it (Unicode TS #51), with its modifiers. */
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
/** A custom emoji: `:name:`, 2 to 32 letters, digits or `_` (Discord's custom emoji names). */
const CUSTOM_EMOJI = /^:[A-Za-z0-9_]{2,32}:$/;
/** What a reaction emoji must be, as the refusal of anything else says it. */
export const EMOJI_RULE = 'emoji must be one emoji, or a custom :name: (2 to 32 letters, digits, _)';
/** VARIATION SELECTOR-16: asks for the emoji presentation of the character before it. */
const VS16 = '\uFE0F';

/**
 * A character that is an emoji but shown as text unless VS16 follows it (`❤`, `1`, `🏳`…),
 * and not already followed by VS16 or by a skin tone (a modifier makes it an emoji: RGI
 * writes `⛹🏻‍♀️` with no VS16 before the tone).
 */
const TEXT_DEFAULT = /(?![\p{Emoji_Presentation}\p{Emoji_Modifier}])\p{Emoji}(?![\uFE0F\p{Emoji_Modifier}])/gu;

/**
 * The one form a reaction emoji is stored and compared in: a custom `:name:` as it is; an
 * RGI emoji as it is; an emoji sent without the VS16 its fully-qualified form has (UTS #51
 * §2.8), as keyboards and older clients send them (`❤` for `❤️`, `1⃣` for `1️⃣`, `❤‍🔥`
 * for `❤️‍🔥`), with VS16 after each text-default character, when that makes it RGI. Null
 * for anything else.
 */
export function canonicalEmoji(e: string): string | null {
  if (CUSTOM_EMOJI.test(e) || RGI_EMOJI.test(e)) return e;
  const qualified = e.replace(TEXT_DEFAULT, `$&${VS16}`);
  return qualified !== e && RGI_EMOJI.test(qualified) ? qualified : null;
}
