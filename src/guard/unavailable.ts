/**
 * Whether an error means a dependency (PostgreSQL, Redis) is unreachable or restarting,
 * rather than a bug: such a call is answered SERVICE_UNAVAILABLE (503, retry), as a load
 * balancer would, not INTERNAL_SERVER_ERROR. Looks through `cause` chains (drizzle wraps
 * the driver's error).
 */
export function isUnavailable(err: unknown): boolean {
  for (let e = err, i = 0; e && typeof e === 'object' && i < 6; e = (e as { cause?: unknown }).cause, i++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    // PostgreSQL: class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
    if (typeof code === 'string' && (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code))) return true;
    if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
    if (name === 'MaxRetriesPerRequestError') return true;
    if (
      typeof message === 'string' &&
      /Connection terminated|connection error|timeout exceeded when trying to connect|Connection is closed|max retries per request|Stream isn't writeable|the database system is (starting up|shutting down)|terminating connection due to administrator command/i.test(
        message,
      )
    ) {
      return true;
    }
  }
  return false;
}
