import { Histogram } from 'prom-client';

/**
 * What the fan-out counts, kept cheap for the hot path: plain numbers bumped once per
 * event and socket group (not per socket) where the group writes, and one latency
 * observation per event and group. src/ops/metrics.ts exposes them at `/metrics`.
 */
export class FanoutStats {
  /** Events written to subscribers (each socket or iterator that got one counts once). */
  deliveries = 0;
  /** Conversation messages published (message.created). */
  messagesSent = 0;
  /** Bus publishes that failed (subscribers repair from the database). */
  publishFailures = 0;
  /** Gaps a feed saw in the live seqs and backfilled from the database. */
  gapRepairs = 0;
  /** Conversations (or user streams) the periodic sweep found still behind the log one sweep later and repaired. */
  sweepRepairs = 0;
  /** Resumes too far behind that got `resync.required` instead of a replay. */
  resyncs = 0;
  /**
   * Seconds from the publish after commit (stamped on the bus message) to the write to
   * a socket; registered in the instance's registry by src/ops/metrics.ts.
   */
  readonly latency = new Histogram({
    name: 'guildhall_fanout_delivery_latency_seconds',
    help: 'Time from the publish after commit to the write of the event to a subscriber (observed once per event and socket group)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [],
  });

  /** Records `n` deliveries of a live event published at `publishedAt` (ms since the epoch; undefined for a replay). */
  delivered(n: number, publishedAt: number | undefined): void {
    this.deliveries += n;
    if (publishedAt !== undefined && n > 0) this.latency.observe(Math.max(0, Date.now() - publishedAt) / 1000);
  }
}
