/**
 * Server child processes of the benchmarks (bench/send.ts, bench/history.ts): spawning,
 * the ready handshake, CPU time from /proc, stopping; and the percentile helper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** What a server child sends its parent over IPC once it listens. */
export type FromChild = { type: 'ready'; url: string };

/** A server in its own process: its URL once ready, its CPU time, and a clean stop. */
export class ServerChild {
  readonly ready: Promise<string>;
  /**
   * @param ready resolves with the server's URL; by default the child's `{ type: 'ready' }` IPC message.
   */
  constructor(
    readonly kind: string,
    readonly child: ChildProcess,
    ready?: Promise<string>,
  ) {
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`))));
    this.ready = Promise.race([ready ?? new Promise<string>((resolve) => child.on('message', (m: FromChild) => m.type === 'ready' && resolve(m.url))), exited]);
    child.stderr?.on('data', (d) => process.stderr.write(`[${kind}] ${d}`));
  }
  /** User + system CPU time of the process so far, in ms (from /proc). */
  cpuMs(): number {
    return processCpuMs(this.child.pid!);
  }
  /** Resident memory of the process now and at its peak, in MB (VmRSS, VmHWM from /proc). */
  rssMb(): { now: number; peak: number } {
    const status = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? NaN);
    return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  }
  /** Asks the child to stop (IPC `stop`, or SIGTERM without an IPC channel); SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' });
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await new Promise((r) => this.child.once('exit', r));
    clearTimeout(timer);
  }
}

/** User + system CPU time of a process so far, in ms (/proc/<pid>/stat; 0 when it is gone). */
export function processCpuMs(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

/**
 * Runs `script` again in a child process in the role `role` (env `roleVar`), with the
 * parent's node flags plus those in env `flagsVar` (e.g. `--cpu-prof`); the child answers
 * with a `ready` message (`serveChild` below).
 */
export function spawnRole(script: string, role: string, env: Record<string, string>, roleVar: string, flagsVar: string): ServerChild {
  const child = spawn(process.execPath, [...process.execArgv, ...(process.env[flagsVar] ?? '').split(' ').filter(Boolean), script], {
    env: { ...process.env, ...env, [roleVar]: role },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  return new ServerChild(role, child);
}

/** In a child of `spawnRole`: tells the parent the server listens at `url`, and stops it on the parent's `stop`. */
export function serveChild(url: string, stop: () => Promise<void>): void {
  process.send!({ type: 'ready', url } satisfies FromChild);
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'stop') {
      await stop().catch(() => {});
      process.exit(0);
    }
  });
}

/** The p-th percentile of sorted numbers (nearest rank below); NaN when empty. */
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Runs a bench's driver: exit 0 when it is done, 1 (after printing the error) when it fails. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
