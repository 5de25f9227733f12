import { describeError } from '../log.js';

/**
 * The error to throw when PGlite could not open its data directory `dir`, whatever `err`
 * it threw (PGlite throws its file system's errors as plain objects, `{ name: 'ErrnoError',
 * errno }`, and a file it cannot write as "Aborted()"): one line naming the directory and
 * PGlite's own error, then what to do.
 * @returns an Error whose `cause` is `err`.
 */
export function pgliteOpenError(dir: string, err: unknown): Error {
  return new Error(`the embedded database in ${dir} could not be opened (${describeError(err)}); check that this user can read and write every file in it`, { cause: err });
}
