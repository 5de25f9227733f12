import pino, { type Logger } from 'pino';

/** The process logger (pino, JSON lines on stdout). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'guildhall' } });
}

/**
 * One line for anything thrown: an Error's message, a string as it is, and for any other
 * value its constructor's name and JSON (PGlite throws Emscripten file-system errors as
 * plain objects, which `String()` prints as "[object Object]").
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err !== 'object' || err === null) return String(err);
  const name = (err as { constructor?: { name?: string } }).constructor?.name || 'Object';
  try {
    return `${name} ${JSON.stringify(err)}`;
  } catch {
    return `${name} (not serialisable)`;
  }
}
