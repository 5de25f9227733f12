import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Creates `dir` if needed and checks that this user can read, write and enter it, so a
 * directory under DATA_DIR that cannot be used is named, with what to do, before a library
 * (PGlite, s3rver) fails on a file inside it with an error of its own.
 * @param what what the directory is for, e.g. `the embedded database`.
 * @param elsewhere the other way out, after "make it readable and writable by this user, or".
 * @throws Error of one line: `DATA_DIR: cannot use <dir> for <what> (<the file system's
 *   error: EACCES, EPERM, EROFS, ENOTDIR…, with the path>); <what to do>`.
 */
export function usableDir(dir: string, what: string, elsewhere = 'set DATA_DIR to another directory'): void {
  try {
    makeDirs(dir);
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is where that directory should be: set DATA_DIR to a directory' : `make it readable and writable by this user, or ${elsewhere}`;
    throw new Error(`DATA_DIR: cannot use ${dir} for ${what} (${(err as Error).message}); ${hint}`, { cause: err });
  }
}

/**
 * `mkdir -p` that fails instead of looping: each missing directory from the nearest
 * existing ancestor down is made once, and the first refusal is thrown. Node 20's
 * `mkdir(dir, { recursive: true })`, sync or async, loops forever (the async one in a
 * thread of libuv's pool, its promise never settling) where mkdir keeps answering ENOENT
 * under a parent that exists, as under /proc. Use this for any directory under DATA_DIR.
 * @throws the file system's error (ENOENT, EACCES, ENOTDIR…) for the first one it cannot make.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
