import { describe, expect, it } from 'vitest';
import { parsePoll, parseVote, resultsLine, words } from '../examples/poll-commands.js';

describe('the chat example poll commands', () => {
  it('parse /poll with quoted words and /vote with 1-based numbers', () => {
    expect(words('/poll "Lunch today?" "Pizza" Sushi "say \\"hi\\""')).toEqual(['/poll', 'Lunch today?', 'Pizza', 'Sushi', 'say "hi"']);
    expect(parsePoll('/poll "Q" "A" "B"')).toEqual({ question: 'Q', options: ['A', 'B'] });
    expect(parsePoll('/poll "Q" "A"')).toHaveProperty('error');
    expect(parseVote('/vote 2', 3)).toEqual([1]);
    expect(parseVote('/vote 1 3', 3)).toEqual([0, 2]);
    expect(parseVote('/vote 4', 3)).toHaveProperty('error');
    expect(parseVote('/vote', 3)).toHaveProperty('error');
  });

  it('print results, or say they are hidden', () => {
    expect(resultsLine([{ text: 'A' }, { text: 'B' }], [2, 0], 2)).toBe('1. A 2 ██ · 2. B 0  (2 voters)');
    expect(resultsLine([{ text: 'A' }, { text: 'B' }], [null, null], 1)).toBe('1. A · 2. B (1 voter — results hidden)');
  });
});
