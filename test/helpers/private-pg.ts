import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/**
 * A PostgreSQL cluster of the test's own (initdb into `dir`, pg_ctl on `port`), so a test
 * can stop and restart it without disturbing the shared server the other suites use.
 * Binaries come from PG_BIN, else `pg_config --bindir`. As root, the cluster runs as the
 * `postgres` user (initdb refuses root).
 */
export class PrivateCluster {
  private readonly bin: string;
  private readonly data: string;
  private readonly owner: { uid: number; gid: number } | undefined;

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.bin = process.env.PG_BIN ?? execFileSync('pg_config', ['--bindir']).toString().trim();
    this.data = path.join(dir, 'pgdata');
    if (process.getuid?.() === 0) {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
      this.owner = { uid: id('-u'), gid: id('-g') };
    }
  }

  /** The URL of database `db` on this cluster. */
  url(db: string, applicationName?: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}${applicationName ? `?application_name=${applicationName}` : ''}`;
  }

  private run(tool: string, args: string[]) {
    const r = spawnSync(path.join(this.bin, tool), args, { ...(this.owner ?? {}), encoding: 'utf8', cwd: this.dir });
    if (r.status !== 0) throw new Error(`${tool} failed (${r.status}): ${r.stderr || r.stdout}`);
  }

  /** initdb, start, and create `db`. */
  async init(db: string): Promise<void> {
    mkdirSync(this.data, { recursive: true });
    if (this.owner) {
      chownSync(this.dir, this.owner.uid, this.owner.gid);
      chownSync(this.data, this.owner.uid, this.owner.gid);
    }
    this.run('initdb', ['-D', this.data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    await this.start();
    const c = new pg.Client({ connectionString: this.url('postgres') });
    await c.connect();
    await c.query(`create database ${db}`);
    await c.end();
  }

  async start(): Promise<void> {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c fsync=off -c max_connections=200`;
    this.run('pg_ctl', ['-D', this.data, '-o', opts, '-l', path.join(this.dir, 'pg.log'), '-w', '-t', '60', 'start']);
  }

  /** Fast shutdown (connections are terminated, as in a failover or a restart for an upgrade). */
  async stop(): Promise<void> {
    this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  /** Runs `sql` as postgres on database `db`. */
  async query(db: string, sql: string): Promise<unknown[]> {
    const c = new pg.Client({ connectionString: this.url(db) });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  }

  /** Immediate stop, for teardown; never throws. */
  destroy(): void {
    spawnSync(path.join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', 'stop'], { ...(this.owner ?? {}), stdio: 'ignore' });
  }
}
