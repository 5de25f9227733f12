import pg from 'pg';
import fs from 'node:fs';
const src = fs.readFileSync('src/messages/list-sql.ts', 'utf8');
const text = src.slice(src.indexOf('const PAGE_TEXT = `') + 19, src.indexOf('`;', src.indexOf('const PAGE_TEXT = `'))).replaceAll('${TAKE_MAX}', '101');
const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/guildhall_bench_history?application_name=pgcost' });
await c.connect();
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
const room = (await c.query("select scope_id from messages group by scope_id order by count(*) desc limit 1")).rows[0].scope_id;
const reader = (await c.query("select user_id from memberships where scope_id = $1 limit 1", [room])).rows[0].user_id;
const st = (await c.query("select coalesce(path[1], id) as root from scopes where id = $1", [room])).rows[0].root;
const ver = Number((await c.query("select perm_version from scopes where id = $1", [st])).rows[0].perm_version);
const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const max = 9_990_000;
const variants: [string, string, (b: number) => unknown[]][] = [
  ['baseline', `select id, scope_id, seq, author_id, body, nonce, reply_to_id, thread_root_id, mention_everyone, thread_reply_count, created_at, edited_at, deleted_at from messages where scope_id = $1 and thread_root_id is null and deleted_at is null and seq < $2 order by seq desc limit $3`, (b) => [room, b, 51]],
  ['ours', text, (b) => [room, reader, b, 51, 50, b - 1, 1, 0, st, ver]],
  ['ours, no stamp', text, (b) => [room, reader, b, 51, 50, b - 1, 1, 0, null, null]],
  ['newest, a take 0', text, () => [room, reader, 2 ** 53, 51, 50, 0, 0, 0, st, ver]],
  ['newest, a take 1', text, () => [room, reader, 2 ** 53, 51, 50, 2 ** 53 - 1, 1, 0, st, ver]],
  ['ours, no order by', text.slice(0, text.lastIndexOf(' order by')), (b) => [room, reader, b, 51, 50, b - 1, 1, 0, st, ver]],
  ['ours, no json cols', text.replace(/case when p\.keep and p\.has_mentions[\s\S]*? end as attachments/, 'null as mentions, null as reactions, null as attachments'), (b) => [room, reader, b, 51, 50, b - 1, 1, 0, st, ver]],
];
for (const round of [1]) for (const [name, q, args] of variants) {
  const N = 3000;
  for (let i = 0; i < 200; i++) await c.query({ name: round + name, text: q, values: args(2 + Math.floor(Math.random() * max)) });
  const c0 = cpu(); const t0 = performance.now();
  for (let i = 0; i < N; i++) await c.query({ name: round + name, text: q, values: args(2 + Math.floor(Math.random() * max)) });
  console.log(`${name.padEnd(20)} PG CPU ${((cpu() - c0) / N).toFixed(3)} ms/statement, wall ${((performance.now() - t0) / N).toFixed(3)} ms`);
}
await c.end(); await admin.end();
