import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FanoutStats } from '../realtime/stats.js';

/** What the metrics read from the rest of the instance at scrape time. */
export interface MetricSources {
  fanout: FanoutStats;
  /** Connections of the database pool (null for embedded PGlite, one connection, no pool). */
  dbPool: () => { inUse: number; waiting: number } | null;
  /** Reminders fired by this instance since it started. */
  remindersFired: () => number;
}

/**
 * The Prometheus metrics of one instance (prom-client), with Prometheus naming: a
 * `guildhall_` prefix, base units (seconds), `_total` for counters. Node's default
 * metrics (`nodejs_eventloop_lag_seconds`, heap, GC, handles; once per process) are
 * included. Values that
 * live elsewhere (fan-out counters, pool, sockets) are read when scraped, so nothing is
 * paid between scrapes.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'procedure' | 'transport' | 'code'>;
  private readonly callSeconds: Histogram<'procedure' | 'transport' | 'code'>;

  constructor(private readonly sources: MetricSources) {
    const r = this.registry;
    this.calls = new Counter({ name: 'guildhall_calls_total', help: 'Procedure calls, by procedure, transport (http, rest, ws) and result code', labelNames: ['procedure', 'transport', 'code'], registers: [r] });
    this.callSeconds = new Histogram({
      name: 'guildhall_call_duration_seconds',
      help: 'Duration of procedure calls (for a subscription: until it started), by procedure, transport and result code',
      labelNames: ['procedure', 'transport', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
    const fanout = sources.fanout;
    const counterOf = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counterOf('guildhall_messages_sent_total', 'Messages sent (message.created events published)', () => fanout.messagesSent);
    counterOf('guildhall_fanout_deliveries_total', 'Events written to subscribers (one per subscriber and event)', () => fanout.deliveries);
    counterOf('guildhall_bus_publish_failures_total', 'Bus publishes that failed (subscribers backfill from the database)', () => fanout.publishFailures);
    counterOf('guildhall_realtime_gap_repairs_total', 'Gaps in live seqs a subscriber backfilled from the database', () => fanout.gapRepairs);
    counterOf('guildhall_realtime_sweep_repairs_total', 'Conversations the periodic sweep found still behind the log one sweep later and repaired', () => fanout.sweepRepairs);
    counterOf('guildhall_realtime_resyncs_total', 'Resumes too far behind that got resync.required', () => fanout.resyncs);
    counterOf('guildhall_event_reminders_fired_total', 'Event reminders delivered by this instance', sources.remindersFired);
    r.registerMetric(fanout.latency);
    new Gauge({
      name: 'guildhall_db_pool_connections_in_use',
      help: 'PostgreSQL pool connections checked out (0 with embedded PGlite)',
      registers: [r],
      collect() {
        this.set(sources.dbPool()?.inUse ?? 0);
      },
    });
    new Gauge({
      name: 'guildhall_db_pool_waiting',
      help: 'Queries waiting for a PostgreSQL pool connection',
      registers: [r],
      collect() {
        this.set(sources.dbPool()?.waiting ?? 0);
      },
    });
  }

  /** Adds a gauge read at scrape time (for what the transports own: open sockets, subscriptions). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** Counts one finished call; `seconds` is its duration. */
  call(procedure: string, transport: string, code: string, seconds: number): void {
    const labels = { procedure, transport, code };
    this.calls.inc(labels);
    this.callSeconds.observe(labels, seconds);
  }

  /** The text exposition format (this instance's metrics and the process's), and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processMetrics(), this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }
}

let processRegistry: Registry | null = null;

/** Node's default metrics, once per process (several instances may share one in tests). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
