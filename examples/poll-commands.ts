/**
 * The chat example's poll commands, as pure functions (test/examples-poll.test.ts):
 *   /poll "Question" "A" "B" ["C" …]   posts a poll (single choice)
 *   /vote N [M …]                      votes for option N (1-based) of the latest poll
 */

/** Splits a command line into words, honouring "double quotes" (a quote inside is written \"). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** `/poll "Q" "A" "B"` → `{ question, options }`, or an error text saying what is wrong. */
export function parsePoll(line: string): { question: string; options: string[] } | { error: string } {
  const [, question, ...options] = words(line);
  if (!question || options.length < 2) return { error: 'usage: /poll "Question" "Option 1" "Option 2" […up to 20]' };
  return { question, options };
}

/** `/vote 2` or `/vote 1 3` → 0-based option indexes, or an error text. */
export function parseVote(line: string, optionCount: number): number[] | { error: string } {
  const picks = words(line).slice(1).map(Number);
  if (picks.length === 0 || picks.some((n) => !Number.isInteger(n) || n < 1 || n > optionCount)) {
    return { error: `usage: /vote N, with N from 1 to ${optionCount}` };
  }
  return picks.map((n) => n - 1);
}

/** One line of results: `1. Pizza 3 ███ · 2. Sushi 1 █ (4 voters)`; counts null → hidden. */
export function resultsLine(options: { text: string }[], counts: (number | null)[], voterCount: number): string {
  const parts = options.map((o, i) => {
    const c = counts[i];
    return c === null || c === undefined ? `${i + 1}. ${o.text}` : `${i + 1}. ${o.text} ${c} ${'█'.repeat(Math.min(c, 20))}`;
  });
  const hidden = counts.every((c) => c === null) ? ' — results hidden' : '';
  return `${parts.join(' · ')} (${voterCount} voter${voterCount === 1 ? '' : 's'}${hidden})`;
}
