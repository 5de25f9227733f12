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
});
