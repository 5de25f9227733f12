/**
 * Counts the round trips of one `messages.send`: PostgreSQL queries (every `query` call
 * of a pg client, BEGIN and COMMIT included) and Redis commands (and the writes they went
 * out in: commands of one tick share one), in this process, for a
 * plain send, a send with a nonce, its retry, and a reply (the transaction path); and of
 * one `polls.vote` (a first vote, a changed vote), counted with the coalesced
 * `poll.updated` that follows each (flushes run 250 ms apart, so each count waits 300 ms).
 *
 *   npx tsx bench/send-trips.ts
 *
 * Needs PostgreSQL (BENCH_PG_URL, admin: a fresh database is created and dropped) and
 * Redis (BENCH_REDIS_URL). The send rate limit stays on (its call is counted) with a limit
 * these calls do not reach. pg_stat_statements would count the same statements on the
 * server side; it needs shared_preload_libraries, which a shared server may not have.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createServer } from '../src/server.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { createClient } from '../sdk/src/index.js';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import WS from 'ws';
import superjson from 'superjson';
import type { AppRouter } from '../src/router.js';

const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

let pgCalls = 0;
let redisCalls = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  pgCalls++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;
// Writes to Redis's socket: commands of one tick share one (auto-pipelining).
let redisWrites = 0;
const redisPort = Number(new URL(REDIS_URL).port || 6379);
const socketProto = net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
const writeGeneric = socketProto._writeGeneric;
socketProto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
  if (this.remotePort === redisPort) redisWrites++;
  return writeGeneric.apply(this, args);
};
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
  redisCalls++;
  return sendCommand.apply(this, args);
};

async function main(): Promise<void> {
  const dbName = `bench_trips_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  try {
    const database = await openDatabase({ databaseUrl, dataDir: 'unused' });
    await database.migrate();
    await database.close();
    const server = await createServer(
      { ...loadConfig({ MESSAGE_SEND_RATE: '1000000/1' }), port: 0, host: '127.0.0.1', databaseUrl, redisUrl: REDIS_URL, redisPrefix: prefix },
      pino({ level: 'warn' }),
    );
    try {
      const anon = createClient({ url: server.url });
      const { token } = await anon.auth.signUp.mutate({ email: `trips-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'trips' });
      const http = createClient({ url: server.url, token });
      const community = await http.scopes.create.mutate({ kind: 'community', name: 'Trips' });
      const room = await http.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'general' });
      const wsClient = createWSClient({ url: `${server.url.replace(/^http/, 'ws')}/trpc`, WebSocket: WS as never, connectionParams: () => ({ token }) });
      const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
      // Warm caches (session, permissions) the way a busy sender has them.
      for (let i = 0; i < 3; i++) await client.messages.send.mutate({ scopeId: room.id, body: `warm ${i}` });
      // `n` calls back to back, as a busy sender makes them: the figures are per call (the
      // session's copy in memory is re-read from Redis now and then, so it shows as a fraction).
      const count = async (label: string, f: (i: number) => Promise<unknown>, n = 1, settleMs = 50) => {
        await new Promise((r) => setTimeout(r, settleMs));
        const [p0, r0, w0] = [pgCalls, redisCalls, redisWrites];
        for (let i = 0; i < n; i++) await f(i);
        await new Promise((r) => setTimeout(r, settleMs)); // the publish after the answer (and the coalesced event)
        const per = (x: number) => (n === 1 ? String(x) : (x / n).toFixed(2));
        console.log(`${label.padEnd(36)} PostgreSQL ${per(pgCalls - p0)}, Redis ${per(redisCalls - r0)} (in ${per(redisWrites - w0)} writes)`);
      };
      const root = await client.messages.send.mutate({ scopeId: room.id, body: 'root' });
      await count('plain send', () => client.messages.send.mutate({ scopeId: room.id, body: 'hello' }));
      await count('plain send, 200 in a row (per send)', (i) => client.messages.send.mutate({ scopeId: room.id, body: `hello ${i}` }), 200);
      const nonce = randomUUID();
      await count('send with a nonce', () => client.messages.send.mutate({ scopeId: room.id, body: 'once', nonce }));
      await count('retry of that nonce', () => client.messages.send.mutate({ scopeId: room.id, body: 'once', nonce }));
      await count('reply (transaction path)', () => client.messages.send.mutate({ scopeId: room.id, body: 'reply', replyToId: root.id }));
      const poll = await client.polls.create.mutate({ scopeId: room.id, question: 'Trips?', options: [{ text: 'a' }, { text: 'b' }] });
      const [a, b] = poll.options.map((o) => o.id);
      await client.polls.get.query({ pollId: poll.id }); // the poll's facts cached, as on a busy poll
      await count('vote, with its poll.updated', () => client.polls.vote.mutate({ pollId: poll.id, optionIds: [a!] }), 1, 300);
      await count('vote change, with its poll.updated', () => client.polls.vote.mutate({ pollId: poll.id, optionIds: [b!] }), 1, 300);
      await count('the same vote again', () => client.polls.vote.mutate({ pollId: poll.id, optionIds: [b!] }), 1, 300);
      wsClient.close();
    } finally {
      await server.close(100);
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
