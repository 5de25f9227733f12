/**
 * Which browser origins may call the server: the parsed form of `CORS_ORIGINS`. Pure: no
 * I/O, so the rules are tested without a server.
 *
 * An entry is `*` (every origin), an exact origin (`https://app.example.com`,
 * `http://localhost:5173`: scheme, host and port as a browser sends them in `Origin`, no
 * path), or an origin whose port is `*` (`http://localhost:*`: that scheme and host on
 * any port, the embedded mode's development default).
 */
export interface OriginPolicy {
  /** The entries as configured, normalised (for logs and docs). */
  readonly entries: readonly string[];
  /** True when every origin is allowed (`*`). */
  readonly any: boolean;
  /**
   * May a page of `origin` call? `host` is the request's Host header: a page served by
   * this server itself (same origin, e.g. through a reverse proxy) is always allowed, as a
   * browser allows same-origin requests without CORS.
   */
  allows(origin: string, host?: string): boolean;
}

/** What the embedded mode allows when `CORS_ORIGINS` is not set: pages on this machine, any port. */
export const EMBEDDED_DEFAULT_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*'] as const;

/** A CORS_ORIGINS entry that is not an origin; the message says what is expected. */
export class OriginListError extends Error {
  override name = 'OriginListError';
}

interface Rule {
  protocol: string;
  hostname: string;
  /** null: any port. '' is the scheme's default port, as URL gives it. */
  port: string | null;
}

/**
 * Parses a comma-separated list (spaces around entries are ignored; an empty list allows
 * no origin).
 * @throws OriginListError naming the first bad entry, e.g. `'example.com' is not an
 *   origin: expected scheme://host[:port], e.g. https://app.example.com`.
 */
export function parseOriginList(text: string | readonly string[]): OriginPolicy {
  const raw = (typeof text === 'string' ? text.split(',') : [...text]).map((e) => e.trim()).filter(Boolean);
  if (raw.includes('*')) {
    if (raw.length > 1) throw new OriginListError("'*' allows every origin: give it alone, not with other entries");
    return { entries: ['*'], any: true, allows: () => true };
  }
  const rules = raw.map(parseEntry);
  const entries = rules.map((r) => `${r.protocol}//${r.hostname}${r.port === null ? ':*' : r.port ? `:${r.port}` : ''}`);
  return {
    entries,
    any: false,
    allows(origin: string, host?: string) {
      const o = parseOrigin(origin);
      if (!o) return false;
      if (host && sameHost(o, host)) return true;
      return rules.some((r) => r.protocol === o.protocol && r.hostname === o.hostname && (r.port === null || r.port === o.port));
    },
  };
}

function parseEntry(entry: string): Rule {
  const hint = `'${entry}' is not an origin: expected scheme://host[:port] or scheme://host:*, e.g. https://app.example.com`;
  const anyPort = /^(https?:\/\/[^/:?#]+):\*$/i.exec(entry);
  const url = safeUrl(anyPort ? anyPort[1]! : entry);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new OriginListError(hint);
  // An origin has no path, query, fragment or credentials (a trailing slash is tolerated).
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new OriginListError(hint);
  }
  return { protocol: url.protocol, hostname: url.hostname, port: anyPort ? null : url.port };
}

function parseOrigin(origin: string): { protocol: string; hostname: string; port: string; host: string } | null {
  const url = safeUrl(origin);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return null;
  return { protocol: url.protocol, hostname: url.hostname, port: url.port, host: url.host };
}

/** The Host header names the same host and port as the origin (any scheme: TLS may end at a proxy). */
function sameHost(o: { host: string; protocol: string; hostname: string; port: string }, host: string): boolean {
  const h = safeUrl(`${o.protocol}//${host}`);
  return !!h && h.host === o.host;
}

function safeUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
