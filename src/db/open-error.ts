import { describeError } from '../log.js';

/**
 * ENOSPC in Emscripten's numbering (its ERRNO_CODES, in @electric-sql/pglite's dist), which
 * is not Linux's (28, Emscripten's EINVAL): PGlite threw `{ name: 'ErrnoError', errno: 51 }`
 * opening a data directory on a full file system.
 */
const EMSCRIPTEN_ENOSPC = 51;

/**
 * The error to throw when PGlite could not open its data directory `dir`, whatever `err`
 * it threw (PGlite throws its file system's errors as plain objects, `{ name: 'ErrnoError',
 * errno }`, and a file it cannot write as "Aborted()"): one line naming the directory and
 * PGlite's own error, then what to do: free space when the disk is full (ENOSPC, as an
 * ErrnoError or a Node error, here or in its causes), else check the files' permissions.
 * @returns an Error whose `cause` is `err`.
 */
export function pgliteOpenError(dir: string, err: unknown): Error {
  const what = describeError(err);
  const message = diskFull(err)
    ? `the embedded database in ${dir} could not be opened: the disk holding it is full (${what}); free some space there, or set DATA_DIR to a directory on another disk`
    : `the embedded database in ${dir} could not be opened (${what}); check that this user can read and write every file in it`;
  return new Error(message, { cause: err });
}

/** Whether `err`, or one of its first causes, is ENOSPC (no space left on the device). */
function diskFull(err: unknown): boolean {
  for (let e: unknown = err, i = 0; typeof e === 'object' && e !== null && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const { name, errno, code } = e as { name?: unknown; errno?: unknown; code?: unknown };
    if ((name === 'ErrnoError' && errno === EMSCRIPTEN_ENOSPC) || code === 'ENOSPC') return true;
  }
  return false;
}
