import { createHash } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode } from '../db/client.js';
import { sessions, users } from '../db/schema/index.js';
import type { Cache } from '../infra/cache.js';
import type { HashQueue } from './hash-queue.js';
import type { LoginProtection } from './login-protection.js';
import { conflict, unauthorized } from '../errors.js';
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from './password.js';
import type { AuthResult, User } from './types.js';
import type { SessionEnd, SessionWatch } from './session-watch.js';
import type { SessionCache } from './session-cache.js';
import { newSessionToken } from './token.js';

/** How long a resolved session stays in the cache (ms); a revoke deletes it at once. */
const SESSION_CACHE_MS = 5 * 60_000;

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/** A resolved session as the caches keep it (dates as numbers and ISO text). */
export interface CachedSession {
  sessionId: string;
  expiresAt: number;
  user: { id: string; email: string; displayName: string; createdAt: string };
}

/**
 * Accounts and sessions. Passwords are hashed with scrypt; sessions are rows holding the
 * SHA-256 of a random 256-bit bearer token, with an expiry, cached under `session:<hash>`
 * (Redis, or in process) and for a shorter while in this process (SessionCache, which a
 * sign-out on any instance clears through the bus).
 */
export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly cache: Cache,
    private readonly sessionTtlMs: number,
    /** Failed sign-ins per (email, address), per address and per email (rate-limiter-flexible). */
    private readonly login: LoginProtection,
    /** Bounds the password hashes running at once (sign-up and sign-in). */
    private readonly hashes: HashQueue,
    /** Ends the subscriptions of a session when it is revoked or expires. */
    private readonly watcher?: SessionWatch,
    /** Resolved sessions kept in process, dropped on sign-out on any instance. */
    private readonly local?: SessionCache<CachedSession>,
  ) {}

  /** Session lookups in flight, by token hash, with the SessionCache mark each began at. */
  private readonly loading = new Map<string, { mark: number; p: Promise<CachedSession | null> }>();

  /**
   * Creates an account from client address `ip` and signs it in.
   * @throws Conflict when the email (compared without case) is taken; RateLimited when
   *   too many password hashes already wait.
   */
  async signUp(input: { email: string; password: string; displayName: string }, ip: string): Promise<AuthResult> {
    const passwordHash = await this.hashes.run(ip, () => hashPassword(input.password));
    let row;
    try {
      [row] = await this.db
        .insert(users)
        .values({ email: input.email, displayName: input.displayName, passwordHash })
        .returning();
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw conflict('an account with this email already exists; sign in instead');
      throw err;
    }
    return this.startSession(toUser(row!));
  }

  /**
   * Signs in with email and password from client address `ip`.
   * @throws Unauthorized with one message for an unknown email and a wrong password;
   *   RateLimited past the failed sign-in limits (see LoginProtection: SIGN_IN_RATE per
   *   email and address, SIGN_IN_IP_FAILURES_PER_DAY, SIGN_IN_EMAIL_FAILURES_PER_DAY), or
   *   when too many password hashes already wait.
   */
  async signIn(input: { email: string; password: string }, ip: string): Promise<AuthResult> {
    await this.login.check(input.email, ip);
    // The queue admits (or refuses) before the lookup, so a refused flood costs no query either.
    const { row, ok } = await this.hashes.run(ip, async () => {
      const [found] = await this.db
        .select()
        .from(users)
        .where(sql`lower(${users.email}) = lower(${input.email})`)
        .limit(1);
      return { row: found, ok: await verifyPassword(input.password, found?.passwordHash ?? (await DUMMY_HASH_PROMISE)) };
    });
    if (!row || !ok) {
      await this.login.failed(input.email, ip);
      throw unauthorized('wrong email or password');
    }
    await this.login.succeeded(input.email, ip);
    return this.startSession(toUser(row));
  }

  /** Revokes the session of `token`; it stops working at once, on every instance and open socket. */
  async signOut(token: string): Promise<void> {
    const hash = sha256(token);
    this.local?.drop(hash);
    await this.db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.tokenHash, hash));
    await this.cache.del(`session:${hash}`);
    // Dropped again: a lookup that began after the first drop may have read the session
    // before the row was revoked, and must not keep it.
    this.local?.drop(hash);
    await this.watcher?.revoked(hash);
  }

  /**
   * Drops this instance's copies of the session of `token` (memory and cache), so the
   * next call reads its row: for a session row edited outside this service.
   */
  async forgetCached(token: string): Promise<void> {
    const hash = sha256(token);
    this.local?.drop(hash);
    await this.cache.del(`session:${hash}`);
  }

  /**
   * Calls `onEnd` once when the session of `token` is revoked (on any instance) or expires;
   * at once when it is not valid now. For subscriptions, which outlive the call that
   * checked the token. Returns the function that stops watching.
   */
  async watch(token: string, onEnd: SessionEnd): Promise<() => void> {
    // From this instance's memory like every call: a revocation drops that copy and ends
    // the watched subscriptions in the same bus message, and one that arrived before this
    // watch began has dropped the copy, so the session is read again and found revoked.
    const s = await this.session(token);
    if (!s || !this.watcher) {
      if (!s) onEnd(unauthorized('your session has expired or was revoked; sign in again'));
      return () => {};
    }
    return this.watcher.watch(sha256(token), s.expiresAt, onEnd);
  }

  /**
   * Resolves a bearer token to its user, or null when the token is missing, unknown,
   * revoked or expired. Never throws for a bad token.
   */
  async authenticate(token: string | null | undefined): Promise<User | null> {
    const s = await this.session(token);
    return s ? { ...s.user, createdAt: new Date(s.user.createdAt) } : null;
  }

  /**
   * The live session of a token (cached), or null when missing, unknown, revoked or
   * expired.
   */
  private async session(token: string | null | undefined): Promise<CachedSession | null> {
    if (!token || token.length > 200) return null;
    const hash = sha256(token);
    const local = this.local?.get(hash) ?? null;
    if (local) return local.expiresAt > Date.now() ? local : null;
    if (!this.local) return this.load(hash, 0);
    // Lookups of one token asked while one is on its way (a client's sockets opening at
    // once) share it, unless a revocation reached this instance since it began.
    const mark = this.local.mark();
    const inFlight = this.loading.get(hash);
    if (inFlight && inFlight.mark === mark) return inFlight.p;
    const p = this.load(hash, mark).finally(() => {
      if (this.loading.get(hash)?.p === p) this.loading.delete(hash);
    });
    this.loading.set(hash, { mark, p });
    return p;
  }

  /** The session of `hash` from the shared cache, else its row (then cached); kept in memory unless revoked since `mark`. */
  private async load(hash: string, mark: number): Promise<CachedSession | null> {
    const key = `session:${hash}`;
    // A cache outage must not sign everyone out: fall back to the database.
    const cached = await this.cache.get(key).catch(() => null);
    let s: CachedSession | null = cached ? (JSON.parse(cached) as CachedSession) : null;
    if (!s) {
      const [row] = await this.db
        .select({ sessionId: sessions.id, expiresAt: sessions.expiresAt, user: users })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(eq(sessions.tokenHash, hash), isNull(sessions.revokedAt)))
        .limit(1);
      if (!row) return null;
      s = {
        sessionId: row.sessionId,
        expiresAt: row.expiresAt.getTime(),
        user: {
          id: row.user.id,
          email: row.user.email,
          displayName: row.user.displayName,
          createdAt: row.user.createdAt.toISOString(),
        },
      };
      await this.cache.set(key, JSON.stringify(s), Math.min(SESSION_CACHE_MS, s.expiresAt - Date.now())).catch(() => {});
    }
    if (s.expiresAt <= Date.now()) return null;
    this.local?.set(hash, s, mark);
    return s;
  }

  private async startSession(user: User): Promise<AuthResult> {
    const token = newSessionToken();
    const expiresAt = new Date(Date.now() + this.sessionTtlMs);
    await this.db.insert(sessions).values({ userId: user.id, tokenHash: sha256(token), expiresAt });
    return { token, expiresAt, user };
  }
}

function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, email: row.email, displayName: row.displayName, createdAt: row.createdAt };
}
