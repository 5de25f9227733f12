import { createHmac, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { makeDirs } from '../infra/usable-dir.js';

/** The key file of embedded mode, under DATA_DIR (hex, 32 random bytes, mode 0600). */
export const VOTER_KEY_FILE = 'poll-voter.key';

/**
 * The secret behind anonymous votes and responses. For an anonymous poll or survey the
 * database stores `h:` + HMAC-SHA256(key, `<poll or survey id>:<user id>`) instead of the
 * user id: one vote per member is still a primary key, but a database dump alone cannot
 * tell who chose what (the key is not in the database), and the hashes of one member in
 * two polls do not match each other. Telegram keeps anonymity on the server the same way;
 * Matrix MSC3381 polls do not (clients tally, so "anonymous" is only hidden in the UI).
 */
export class VoterKey {
  constructor(private readonly key: Buffer) {}

  /** The `voter` (or `respondent`) column value of `userId` in poll or survey `targetId`. */
  voter(targetId: string, userId: string, anonymous: boolean): string {
    if (!anonymous) return userId;
    return `h:${createHmac('sha256', this.key).update(`${targetId}:${userId}`).digest('base64url')}`;
  }
}

/**
 * Loads the key: POLL_VOTER_KEY when set (service mode: every instance must share it), else
 * the key file under DATA_DIR, created on first start (embedded mode; with DATA_DIR
 * `memory://`, where nothing is kept, a random key for the process). A service-mode
 * start without the variable works from the file too, with a warning, since instances on
 * different hosts would then disagree.
 * @throws Error when the key file exists but does not hold a key; Error of one line naming
 *   the file and what to do when it cannot be created or read (EACCES, EISDIR…).
 */
export async function loadVoterKey(o: { voterKey: string | undefined; dataDir: string; serviceMode: boolean; log: Logger }): Promise<VoterKey> {
  if (o.voterKey) return new VoterKey(Buffer.from(o.voterKey, 'utf8'));
  if (o.dataDir === 'memory://') {
    // Nothing is kept in this mode (PGlite and storage in memory): a key for this process only.
    if (o.serviceMode) o.log.warn('POLL_VOTER_KEY is not set and DATA_DIR is memory://: anonymous votes use a key that ends with this process');
    return new VoterKey(randomBytes(32));
  }
  const file = path.join(o.dataDir, VOTER_KEY_FILE);
  try {
    makeDirs(o.dataDir);
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`DATA_DIR: cannot create the anonymous-vote key ${file} (${(err as Error).message}); make ${o.dataDir} writable by this user, or set POLL_VOTER_KEY`, { cause: err });
    }
  }
  const text = (await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    const hint =
      err.code === 'EISDIR'
        ? 'a directory is where the key file goes: move it away (a new key is then made), or set POLL_VOTER_KEY'
        : 'make it readable by this user (the votes already cast need this key: do not replace it), or set POLL_VOTER_KEY';
    throw new Error(`DATA_DIR: cannot read the anonymous-vote key ${file} (${err.message}); ${hint}`, { cause: err });
  })).trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} does not hold a voter key (64 hex digits); remove it to make a new one`);
  if (o.serviceMode) o.log.warn({ file }, 'POLL_VOTER_KEY is not set: anonymous votes use the key file under DATA_DIR; set the variable so every instance shares one key');
  return new VoterKey(Buffer.from(text, 'hex'));
}
