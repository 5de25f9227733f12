import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '../errors.js';

/** Limits on failed sign-ins; see {@link LoginProtection}. */
export interface LoginProtectionSettings {
  /** Consecutive failures of one (email, client address) pair before it waits `blockSec`. */
  consecutive: { points: number; blockSec: number };
  /** Failures one client address may make per day, over all emails. */
  perIpPerDay: number;
  /** Failures one email may collect per day, over all addresses: a high ceiling only. */
  perEmailPerDay: number;
}

const DAY_SEC = 86_400;

/**
 * rate-limiter-flexible's login endpoint protection scheme (its wiki, "Login endpoint
 * protection"): failures are counted, successes are free.
 * - per (email, address): consecutive failures; a success resets them, and past the limit
 *   only that pair waits, so someone hammering an account from one address cannot lock
 *   its owner out elsewhere;
 * - per address per day: failures over all emails, so one client cannot try 200 emails;
 * - per email per day: a high ceiling against a distributed guesser.
 * Redis when configured (shared by every instance), with an in-memory insurance limiter
 * while Redis is down, so sign-in keeps working through an outage.
 */
export class LoginProtection {
  private readonly pair: RateLimiterAbstract;
  private readonly ip: RateLimiterAbstract;
  private readonly email: RateLimiterAbstract;

  constructor(
    opts: { redis: Redis | null; prefix: string },
    private readonly settings: LoginProtectionSettings,
  ) {
    const make = (name: string, points: number, duration: number) => {
      const keyPrefix = `${opts.prefix}rl:login:${name}`;
      const memory = new RateLimiterMemory({ keyPrefix, points, duration });
      return opts.redis ? new RateLimiterRedis({ storeClient: opts.redis, keyPrefix, points, duration, insuranceLimiter: memory }) : memory;
    };
    // Consecutive failures are remembered for a day unless a success clears them.
    this.pair = make('pair', settings.consecutive.points, DAY_SEC);
    this.ip = make('ip', settings.perIpPerDay, DAY_SEC);
    this.email = make('email', settings.perEmailPerDay, DAY_SEC);
  }

  /**
   * Refuses a sign-in before its password is checked when one of the three limits is used up.
   * @throws RateLimited (TOO_MANY_REQUESTS) saying which limit and for how long ("retry-after: N").
   */
  async check(email: string, ip: string): Promise<void> {
    const e = email.toLowerCase();
    const [pair, byIp, byEmail] = await Promise.all([this.pair.get(`${e}|${ip}`), this.ip.get(ip), this.email.get(e)]);
    const s = this.settings;
    if (byIp && byIp.consumedPoints >= s.perIpPerDay) {
      throw refused(`too many failed sign-ins from your address: at most ${s.perIpPerDay} a day`, byIp);
    }
    if (pair && pair.consumedPoints >= s.consecutive.points) {
      throw refused(`too many failed sign-ins for this email from your address: at most ${s.consecutive.points} in a row`, pair);
    }
    if (byEmail && byEmail.consumedPoints >= s.perEmailPerDay) {
      throw refused(`too many failed sign-ins for this email today: at most ${s.perEmailPerDay}`, byEmail);
    }
  }

  /** Counts a wrong password (or unknown email) against the three limits. */
  async failed(email: string, ip: string): Promise<void> {
    const e = email.toLowerCase();
    const key = `${e}|${ip}`;
    const counted = await Promise.all([
      this.pair.penalty(key, 1),
      this.ip.penalty(ip, 1),
      this.email.penalty(e, 1),
    ]);
    // The pair waits `blockSec` from its last failure, then starts from zero.
    if (counted[0].consumedPoints >= this.settings.consecutive.points) await this.pair.block(key, this.settings.consecutive.blockSec);
  }

  /** A correct password clears that pair's consecutive failures (the daily counts stay). */
  async succeeded(email: string, ip: string): Promise<void> {
    await this.pair.delete(`${email.toLowerCase()}|${ip}`);
  }
}

function refused(what: string, res: RateLimiterRes) {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return rateLimited(`${what}; try again in ${seconds} s (retry-after: ${seconds})`);
}
