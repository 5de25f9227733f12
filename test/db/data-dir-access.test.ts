import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { VOTER_KEY_FILE } from '../../src/polls/voter-key.js';
import { REPO_ROOT, freePort, runMain } from '../helpers/process.js';
import { createTestDatabase } from '../helpers/db.js';

const root = mkdtempSync(path.join(tmpdir(), 'guildhall-access-'));
chmodSync(root, 0o755);
/** Directories made unusable, given their mode back before the removal (a non-root owner cannot list one of mode 0). */
const locked: string[] = [];
afterAll(() => {
  for (const d of locked) chmodSync(d, 0o755);
  rmSync(root, { recursive: true, force: true });
});

/**
 * The user a file with mode 0 is unreadable to: `nobody` when the suite runs as root (root
 * reads everything), else this user (an owner is refused by mode 0 too).
 */
const unprivileged = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'nobody'])), gid: Number(execFileSync('id', ['-g', 'nobody'])) } : {};

/**
 * Runs the module `script` (given `src`, the repository's src/ as a file URL) in a process
 * of its own as the unprivileged user, and resolves with what it printed.
 */
function runAs(script: string): Promise<string> {
  const src = pathToFileURL(path.join(REPO_ROOT, 'src')).href;
  const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href, '--input-type=module', '-e', `const src = ${JSON.stringify(src)};\n${script}`], {
    ...unprivileged,
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d.toString()));
  child.stderr.on('data', (d) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', () => resolve(out.trim())));
}

/** A DATA_DIR of its own that the unprivileged user may write. */
function dataDir(name: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  return dir;
}

describe('files under DATA_DIR that this user cannot use', () => {
  const loadKey = (dir: string) => `
    const { loadVoterKey } = await import(src + '/polls/voter-key.ts');
    const log = { warn() {} };
    try { await loadVoterKey({ voterKey: undefined, dataDir: ${JSON.stringify(dir)}, serviceMode: false, log }); console.log('loaded'); }
    catch (err) { console.log('refused: ' + err.message); }`;

  it('an unreadable poll-voter.key: one line naming it, saying to make it readable and not to replace it', async () => {
    const dir = dataDir('key-unreadable');
    const file = path.join(dir, VOTER_KEY_FILE);
    writeFileSync(file, `${'ab'.repeat(32)}\n`);
    chmodSync(file, 0o000);
    expect(await runAs(loadKey(dir))).toBe(
      `refused: DATA_DIR: cannot read the anonymous-vote key ${file} (EACCES: permission denied, open '${file}'); make it readable by this user (the votes already cast need this key: do not replace it), or set POLL_VOTER_KEY`,
    );
  });

  it('a DATA_DIR where poll-voter.key cannot be created: one line naming the file and what to do', async () => {
    const dir = dataDir('key-unwritable');
    chmodSync(dir, 0o555);
    locked.push(dir);
    const file = path.join(dir, VOTER_KEY_FILE);
    expect(await runAs(loadKey(dir))).toBe(
      `refused: DATA_DIR: cannot create the anonymous-vote key ${file} (EACCES: permission denied, open '${file}'); make ${dir} writable by this user, or set POLL_VOTER_KEY`,
    );
  });

  it('an unusable DATA_DIR/s3: one line naming it and what to do', async () => {
    const dir = dataDir('s3-unusable');
    const s3 = path.join(dir, 's3');
    mkdirSync(s3);
    chmodSync(s3, 0o000);
    locked.push(s3);
    const said = await runAs(`
      const { openStorage } = await import(src + '/infra/storage.ts');
      try { const s = await openStorage({ dataDir: ${JSON.stringify(dir)}, s3: {}, corsOrigins: [] }); console.log('opened'); await s.close(); }
      catch (err) { console.log('refused: ' + err.message); }`);
    expect(said).toBe(
      `refused: DATA_DIR: cannot use ${s3} for the embedded object store (media) (EACCES: permission denied, access '${s3}'); make it readable and writable by this user, or set DATA_DIR to another directory (or S3_ENDPOINT and S3_BUCKET)`,
    );
  });
});

describe('a DATA_DIR that cannot be created', () => {
  it('under /proc (where Node 20 recursive mkdir loops forever): npm start exits 1 with one line naming it', async () => {
    const dir = `/proc/guildhall-no-such-dir-${process.pid}`;
    const server = runMain(root, { DATA_DIR: dir, PORT: String(await freePort()) });
    // A bound, not a wait for an event: a start stuck in a synchronous loop never exits by itself.
    let bound: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => (bound = setTimeout(() => resolve('stuck'), 20_000)));
    const code = await Promise.race([server.exited, stuck]);
    clearTimeout(bound);
    if (code === 'stuck') server.child.kill('SIGKILL');
    expect(code).toBe(1);
    expect(server.output()).toMatch(new RegExp(`guildhall: failed to start: DATA_DIR: cannot use ${dir} for the embedded database \\(ENOENT: [^)]*\\); `));
  }, 30_000);

  it('in service mode too, where only the anonymous-vote key lives there: exits 1 with one line naming the key', async () => {
    const db = await createTestDatabase();
    try {
      const dir = `/proc/guildhall-no-such-dir-${process.pid}-svc`;
      // PostgreSQL, and an S3 store named (not reached during the start), so nothing else uses DATA_DIR.
      const env = { DATABASE_URL: db.url, S3_ENDPOINT: 'http://127.0.0.1:9', S3_BUCKET: 'bucket', DATA_DIR: dir, PORT: String(await freePort()) };
      const server = runMain(root, env);
      let bound: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (bound = setTimeout(() => resolve('stuck'), 20_000)));
      const code = await Promise.race([server.exited, stuck]);
      clearTimeout(bound);
      if (code === 'stuck') server.child.kill('SIGKILL');
      expect(code).toBe(1);
      expect(server.output()).toMatch(new RegExp(`guildhall: failed to start: DATA_DIR: cannot create the anonymous-vote key ${dir}/poll-voter.key \\(ENOENT: [^)]*\\); `));
    } finally {
      await db.drop();
    }
  }, 40_000);
});
