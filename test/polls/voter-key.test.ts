import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadVoterKey, VOTER_KEY_FILE } from '../../src/polls/voter-key.js';

const log = pino({ level: 'silent' });
const cwd = process.cwd();
let dir: string | undefined;
afterEach(() => {
  process.chdir(cwd);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the anonymous voter key', () => {
  it('with DATA_DIR=memory:// lives in memory only: no file or folder appears', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'guildhall-voter-key-'));
    process.chdir(dir);
    const key = await loadVoterKey({ voterKey: undefined, dataDir: 'memory://', serviceMode: false, log });
    expect(readdirSync(dir)).toEqual([]);
    expect(key.voter('poll-1', 'user-1', true)).toMatch(/^h:/);
    expect(key.voter('poll-1', 'user-1', true)).toBe(key.voter('poll-1', 'user-1', true));
  });

  it('under a real DATA_DIR is created once and read back on the next start', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'guildhall-voter-key-'));
    const first = await loadVoterKey({ voterKey: undefined, dataDir: dir, serviceMode: false, log });
    const text = readFileSync(path.join(dir, VOTER_KEY_FILE), 'utf8');
    const second = await loadVoterKey({ voterKey: undefined, dataDir: dir, serviceMode: false, log });
    expect(readFileSync(path.join(dir, VOTER_KEY_FILE), 'utf8')).toBe(text);
    expect(second.voter('p', 'u', true)).toBe(first.voter('p', 'u', true));
    expect(existsSync(path.join(dir, VOTER_KEY_FILE))).toBe(true);
  });

  it('refuses a directory where the key file goes with one line naming it and what to do', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'guildhall-voter-key-'));
    const file = path.join(dir, VOTER_KEY_FILE);
    mkdirSync(file);
    await expect(loadVoterKey({ voterKey: undefined, dataDir: dir, serviceMode: false, log })).rejects.toThrow(
      `DATA_DIR: cannot read the anonymous-vote key ${file} (EISDIR: illegal operation on a directory, read); a directory is where the key file goes: move it away (a new key is then made), or set POLL_VOTER_KEY`,
    );
  });
});
