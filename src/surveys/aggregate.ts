import type { QuestionAggregate } from '../polls/events.js';
import type { Answer, Question } from './questions.js';

/** Text answers are never aggregated (nor sent in events); results page them separately. */
export const TEXT_TYPES = new Set(['shortText', 'longText']);

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Aggregates of one survey's responses, per question (text questions left out):
 * - choice questions: count and percentage of the answers per option (for multiple
 *   choice a share of the people who answered it, so they can sum past 100), plus `other`;
 * - scale, rating, number: count, mean, median, population standard deviation, and the
 *   distribution of values (every step of a scale or rating, zeros included);
 * - date: count and the distribution of dates is left to the export (dates are not numbers).
 * Pure: the same responses give the same aggregates, on any instance.
 */
export function aggregate(questions: Question[], responses: Record<string, Answer>[]): QuestionAggregate[] {
  const out: QuestionAggregate[] = [];
  for (const q of questions) {
    if (TEXT_TYPES.has(q.type)) continue;
    const given = responses.map((r) => r[q.id]).filter((a): a is Answer => a !== undefined);
    if (q.type === 'single' || q.type === 'multiple') {
      const counts = new Map((q.config.options ?? []).map((o) => [o.id, 0]));
      let other = 0;
      for (const a of given) {
        if (!('optionIds' in a)) continue;
        for (const id of a.optionIds) counts.set(id, (counts.get(id) ?? 0) + 1);
        if (a.other !== undefined) other++;
      }
      const n = given.length;
      out.push({
        questionId: q.id,
        count: n,
        choices: [...counts].map(([optionId, count]) => ({ optionId, count, percent: n ? round((count / n) * 100) : 0 })),
        ...(q.config.allowOther ? { other } : {}),
      });
      continue;
    }
    if (q.type === 'date') {
      out.push({ questionId: q.id, count: given.length });
      continue;
    }
    const values = given.flatMap((a) => ('value' in a ? [a.value] : [])).sort((x, y) => x - y);
    const stats = describe(values);
    const distribution = new Map<number, number>();
    if (q.type !== 'number') for (let v = 1; v <= (q.config.max ?? 5); v++) distribution.set(v, 0);
    for (const v of values) distribution.set(v, (distribution.get(v) ?? 0) + 1);
    out.push({
      questionId: q.id,
      count: values.length,
      ...stats,
      distribution: [...distribution].sort((a, b) => a[0] - b[0]).map(([value, count]) => ({ value, count })),
    });
  }
  return out;
}

/** Mean, median and population standard deviation of sorted values (nulls when there are none). */
export function describe(sorted: number[]): { mean: number | null; median: number | null; stddev: number | null } {
  const n = sorted.length;
  if (n === 0) return { mean: null, median: null, stddev: null };
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const median = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const variance = sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  return { mean: round(mean), median: round(median), stddev: round(Math.sqrt(variance)) };
}
