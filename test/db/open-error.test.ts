import { describe, expect, it } from 'vitest';
import { pgliteOpenError } from '../../src/db/open-error.js';

/** What PGlite's Emscripten file system throws: a plain object, not an Error. */
class ErrnoError {
  name = 'ErrnoError';
  errno: number;
  constructor(errno: number) {
    this.errno = errno;
  }
}

describe('pgliteOpenError', () => {
  const dir = '/srv/guildhall/data/pglite';

  it('names the directory, the error and the permissions to check for a file-system error or an abort', () => {
    const denied = new ErrnoError(2); // Emscripten's EACCES
    const err = pgliteOpenError(dir, denied);
    expect(err.message).toBe(`the embedded database in ${dir} could not be opened (ErrnoError {"name":"ErrnoError","errno":2}); check that this user can read and write every file in it`);
    expect(err.cause).toBe(denied);
    expect(pgliteOpenError(dir, new Error('Aborted()')).message).toBe(`the embedded database in ${dir} could not be opened (Aborted()); check that this user can read and write every file in it`);
  });

  it('says the disk is full for ENOSPC: errno 51 of Emscripten (what PGlite threw on a full tmpfs), or a Node error', () => {
    const full = new ErrnoError(51);
    const err = pgliteOpenError(dir, full);
    expect(err.message).toBe(`the embedded database in ${dir} could not be opened: the disk holding it is full (ErrnoError {"name":"ErrnoError","errno":51}); free some space there, or set DATA_DIR to a directory on another disk`);
    expect(err.cause).toBe(full);
    const node = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC', errno: -28 });
    expect(pgliteOpenError(dir, node).message).toBe(`the embedded database in ${dir} could not be opened: the disk holding it is full (ENOSPC: no space left on device, write); free some space there, or set DATA_DIR to a directory on another disk`);
    // Linux's ENOSPC number (28) is Emscripten's EINVAL: not a full disk.
    expect(pgliteOpenError(dir, new ErrnoError(28)).message).toMatch(/; check that this user can read and write every file in it$/);
  });
});
