/**
 * Safety limits for parsing and expanding recurrence. Every limit exists so
 * that no input, however hostile, makes an expansion slow or unbounded; the
 * defaults are generous for real calendars.
 */
export interface RecurrenceLimits {
  /** Longest accepted RRULE value, in characters (checked before parsing). */
  maxRRuleLength: number;
  /** Largest accepted RRULE COUNT. */
  maxCount: number;
  /** Largest accepted RRULE INTERVAL. */
  maxInterval: number;
  /** Most EXDATE values on one series. */
  maxExdates: number;
  /** Most RDATE values on one series. */
  maxRdates: number;
  /** Longest instance, in days (a duration or DTEND beyond it is refused). */
  maxDurationDays: number;
  /**
   * Iteration budget of one expansion: recurrence periods the library may
   * advance through, and instances this engine may look at. Exceeding it
   * refuses the request instead of running on.
   */
  maxIterations: number;
  /** Candidate date-times the library may evaluate inside periods, per expansion. */
  maxCandidateEvaluations: number;
  /** Instances returned when a window gives no `limit`. */
  defaultLimit: number;
  /** Largest `limit` a window may ask for. */
  maxLimit: number;
}

export const DEFAULT_LIMITS: Readonly<RecurrenceLimits> = Object.freeze({
  maxRRuleLength: 1000,
  maxCount: 1000,
  maxInterval: 1000,
  maxExdates: 500,
  maxRdates: 500,
  maxDurationDays: 366,
  maxIterations: 20_000,
  maxCandidateEvaluations: 200_000,
  defaultLimit: 100,
  maxLimit: 1000,
});

/**
 * Merges caller overrides over {@link DEFAULT_LIMITS}.
 *
 * @param overrides any subset of the limits; each must be a whole number ≥ 1.
 * @returns the complete limits.
 * @throws RangeError when an override is not a whole number ≥ 1 (a programming
 *   error in the caller, not a client error).
 */
export function resolveLimits(overrides?: Partial<RecurrenceLimits>): RecurrenceLimits {
  const limits: RecurrenceLimits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`recurrence limit ${name} must be a whole number ≥ 1 (got ${String(value)})`);
    }
  }
  return limits;
}
