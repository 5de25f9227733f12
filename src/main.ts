import { ConfigError, loadConfig } from './config.js';
import { createLogger, describeError } from './log.js';
import { createServer, type GuildhallServer } from './server.js';

/**
 * `npm start`: reads the environment, starts one instance, stops cleanly on SIGTERM/SIGINT.
 * SIGTERM first drains for SHUTDOWN_DRAIN_MS (`/readyz` 503, everything still served), so a
 * load balancer has taken the instance out before it stops accepting; SIGINT (Ctrl-C) stops
 * at once. A signal during the start stops the instance as soon as it has started; a
 * second one exits at once.
 */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`guildhall: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // The handlers are installed before anything starts: a signal without one kills the
  // process at once, and a supervisor may send SIGTERM as soon as it reads "listening".
  let server: GuildhallServer | null = null;
  let requested: string | null = null;
  let stopping = false;
  /**
   * Stops on `signal` (its name, for the log): once started, drains first when it is SIGTERM
   * and `drain` is not false (SHUTDOWN_DRAIN_MS), then closes and exits 0 (1 when closing failed).
   */
  const stop = async (signal: string, drain = true) => {
    if (!server) {
      // During the start: it finishes, then stops (the database may be half-way through a
      // migration). A second signal (Ctrl-C again while it waits on a lock) exits at once.
      if (requested) {
        process.stderr.write(`guildhall: ${signal} again during the start: exiting now\n`);
        process.exit(1);
      }
      requested = signal;
      log.info({ signal }, 'stopping once the start is done (send it again to exit now)');
      return;
    }
    if (stopping) return;
    stopping = true;
    try {
      if (drain && signal === 'SIGTERM' && config.shutdownDrainMs > 0) {
        log.info({ signal, drainMs: config.shutdownDrainMs }, 'draining: /readyz answers 503 while requests are still served');
        await server.drain(config.shutdownDrainMs);
      }
      log.info({ signal }, 'shutting down');
      await server.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  server = await createServer(config, log);
  if (requested) {
    log.info({ signal: requested }, 'the signal came during the start; stopping now that it is done');
    return stop(requested, false); // no drain: nothing was announced to route traffic here
  }
  const mode = config.databaseUrl ? 'services' : 'embedded';
  log.info(
    { url: server.url, trpc: `${server.url}/trpc`, mode, database: server.services.database.driver, redis: !!config.redisUrl, storage: server.services.storage.mode, s3: server.services.storage.endpoint },
    `guildhall listening on ${server.url} (tRPC over HTTP and WebSocket at ${server.url}/trpc)`,
  );
}

main().catch((err) => {
  process.stderr.write(`guildhall: failed to start: ${describeError(err)}\n`);
  process.exit(1);
});
