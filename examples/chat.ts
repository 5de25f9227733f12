/**
 * A small terminal chat client for Guildhall, built only on the SDK.
 *
 *   npm run chat -- --email alice@example.com --room lobby
 *   npm run chat -- --url http://127.0.0.1:3000 --email bob@example.com --room lobby --name Bob
 *
 * It signs in (or signs up when the account does not exist yet), finds or creates the
 * community and the room, prints the last 20 messages, then follows the room live
 * through `messages.onEvent` while every line you type is sent with `messages.send`.
 * `/poll "Question" "A" "B"` posts a poll, `/vote N` votes in the latest one, and live
 * results print as they come (`poll.updated`, `poll.closed`). `/quit`, Ctrl-D or Ctrl-C leaves.
 *
 * Demo shortcut: the server has no "find a scope by name" procedure yet, so room and
 * community names are resolved through a small local file, `./data/chat-rooms.json`
 * (names → ids, per server URL). The first client creates the scopes and records them;
 * a second terminal on the same machine reads the file and joins the same room. A room
 * id (uuid) works from anywhere. Authors are shown by their display names, read from
 * `members.list` of the room (and again when someone new joins or writes).
 * Without --url it talks to http://127.0.0.1:$PORT (3000 when PORT is unset), the
 * address `npm start` listens on. See examples/README.md.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import {
  closeClient,
  createClient,
  TRPCClientError,
  type AuthResult,
  type GuildhallClient,
  type Message,
  type Scope,
  type ScopeStreamEvent,
  type PollView,
} from '../sdk/src/index.js';
import { parsePoll, parseVote, resultsLine } from './poll-commands.js';

/** Where `npm start` listens when run with the same environment: PORT, else 3000. */
const DEFAULT_URL = `http://127.0.0.1:${/^\d{1,5}$/.test(process.env.PORT ?? '') ? process.env.PORT : '3000'}`;
const DEFAULT_PASSWORD = 'guildhall-demo';
const DEFAULT_COMMUNITY = 'Guild';
const HISTORY = 20;
const DIRECTORY_FILE = path.join('data', 'chat-rooms.json');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const USAGE = `usage: npm run chat -- --email <email> --room <name|room-id> [options]

  --email <email>       your account (created on first use)            (required)
  --room <name|id>      a room name (found or created, see below) or a room id (uuid)  (required)
  --url <url>           the server                 (default: ${DEFAULT_URL}, from PORT or 3000)
  --password <pw>       your password; at least 8 characters           (default: '${DEFAULT_PASSWORD}',
                        a shared demo password: for local demos only, never for a real account)
  --name <name>         display name when the account is created       (default: the email's local part)
  --community <name|id> the community that holds the room              (default: '${DEFAULT_COMMUNITY}')
  -h, --help            show this help

Room and community names are resolved through ./data/chat-rooms.json (a demo shortcut:
the server cannot look scopes up by name yet), so terminals on this machine meet in the
same room. From another machine, pass the ids this client prints at start.
Type a line and press Enter to send it; /quit or Ctrl-D leaves.
/poll "Question" "A" "B" posts a poll; /vote N votes for option N of the latest poll.`;

// ---------------------------------------------------------------- small helpers

/** The tRPC error code (`UNAUTHORIZED`, `NOT_FOUND`, …) of a failed call, if it has one. */
function codeOf(err: unknown): string | undefined {
  if (!(err instanceof TRPCClientError)) return undefined;
  const data: unknown = err.data;
  if (data && typeof data === 'object' && 'code' in data && typeof data.code === 'string') return data.code;
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Keeps other people's text from moving the cursor or recolouring the terminal. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\uFFFD');
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `12:04:05` for today, `2025-01-31 12:04:05` for older messages (local time). */
function timeOf(d: Date): string {
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

// ---------------------------------------------------------------- options

interface Options {
  url: string;
  email: string;
  password: string;
  name: string | undefined;
  room: string;
  community: string;
}

function usageError(message: string): never {
  process.stderr.write(`chat: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function readOptions(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        email: { type: 'string' },
        password: { type: 'string' },
        name: { type: 'string' },
        room: { type: 'string' },
        community: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usageError(messageOf(err));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const url = (values.url ?? DEFAULT_URL).trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(url)) usageError(`--url must be an http(s) URL, e.g. ${DEFAULT_URL} (got '${url}')`);
  const email = values.email?.trim();
  if (!email) usageError('--email is required');
  const room = values.room?.trim();
  if (!room) usageError('--room is required (a room name or a room id)');
  const community = values.community?.trim() || DEFAULT_COMMUNITY;
  const name = values.name?.trim() || undefined;
  return { url, email, password: values.password ?? DEFAULT_PASSWORD, name, room, community };
}

// ---------------------------------------------------------------- the local directory (demo shortcut)

/** What ./data/chat-rooms.json holds for one server URL. */
interface ServerEntry {
  /** community name → community id */
  communities: Record<string, string>;
  /** community id → (room name → room id) */
  rooms: Record<string, Record<string, string>>;
}

interface DirectoryFile {
  version: 1;
  servers: Record<string, ServerEntry>;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  }
  return out;
}

function stringMapOfObjects(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

function readDirectory(): DirectoryFile {
  let raw: string;
  try {
    raw = readFileSync(DIRECTORY_FILE, 'utf8');
  } catch {
    return { version: 1, servers: {} };
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    const servers: Record<string, ServerEntry> = {};
    const given = parsed && typeof parsed === 'object' && 'servers' in parsed ? parsed.servers : undefined;
    if (given && typeof given === 'object') {
      for (const [url, entry] of Object.entries(given)) {
        const e = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
        const rooms: Record<string, Record<string, string>> = {};
        for (const [communityId, names] of Object.entries(stringMapOfObjects(e.rooms))) rooms[communityId] = stringMap(names);
        servers[url] = { communities: stringMap(e.communities), rooms };
      }
    }
    return { version: 1, servers };
  } catch {
    process.stderr.write(`chat: ignoring ${DIRECTORY_FILE}: it is not valid JSON (it will be rewritten)\n`);
    return { version: 1, servers: {} };
  }
}

function serverEntry(dir: DirectoryFile, url: string): ServerEntry {
  return (dir.servers[url] ??= { communities: {}, rooms: {} });
}

/** Reads the file again, applies `change` to this server's entry and writes it atomically. */
function updateDirectory(url: string, change: (entry: ServerEntry) => void): void {
  const dir = readDirectory();
  change(serverEntry(dir, url));
  try {
    mkdirSync(path.dirname(DIRECTORY_FILE), { recursive: true });
    const tmp = `${DIRECTORY_FILE}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(dir, null, 2)}\n`);
    renameSync(tmp, DIRECTORY_FILE);
  } catch (err) {
    process.stderr.write(`chat: could not write ${DIRECTORY_FILE}: ${messageOf(err)}\n`);
  }
}

// ---------------------------------------------------------------- sign-in, community, room

async function signInOrUp(o: Options): Promise<{ auth: AuthResult; created: boolean }> {
  const anon = createClient({ url: o.url });
  try {
    try {
      return { auth: await anon.auth.signIn.mutate({ email: o.email, password: o.password }), created: false };
    } catch (err) {
      if (codeOf(err) !== 'UNAUTHORIZED') throw err;
    }
    const displayName = o.name ?? o.email.split('@')[0] ?? o.email;
    try {
      return { auth: await anon.auth.signUp.mutate({ email: o.email, password: o.password, displayName }), created: true };
    } catch (err) {
      if (codeOf(err) === 'CONFLICT') throw new Error(`wrong password for ${o.email} (the account exists; pass its --password)`);
      throw err;
    }
  } finally {
    closeClient(anon);
  }
}

/** Joins a scope recorded in the directory; false when the server no longer knows it. */
async function joinKnown(client: GuildhallClient, scopeId: string): Promise<boolean> {
  try {
    await client.members.join.mutate({ scopeId });
    return true;
  } catch (err) {
    if (codeOf(err) === 'NOT_FOUND') return false; // a stale entry, e.g. the server's data was reset
    throw err;
  }
}

async function findOrCreateCommunity(client: GuildhallClient, o: Options): Promise<string> {
  if (UUID.test(o.community)) {
    await client.members.join.mutate({ scopeId: o.community });
    return o.community;
  }
  const known = serverEntry(readDirectory(), o.url).communities[o.community];
  if (known && (await joinKnown(client, known))) return known;
  const created = await client.scopes.create.mutate({ kind: 'community', name: o.community, visibility: 'public' });
  updateDirectory(o.url, (e) => {
    e.communities[o.community] = created.id;
  });
  return created.id;
}

async function findOrCreateRoom(client: GuildhallClient, o: Options): Promise<Scope> {
  if (UUID.test(o.room)) return joinRoomById(client, o, o.room);
  const communityId = await findOrCreateCommunity(client, o);
  const known = serverEntry(readDirectory(), o.url).rooms[communityId]?.[o.room];
  if (known && (await joinKnown(client, known))) return client.scopes.get.query({ scopeId: known });
  const created = await client.scopes.create.mutate({ kind: 'room', parentId: communityId, name: o.room, visibility: 'public' });
  updateDirectory(o.url, (e) => {
    (e.rooms[communityId] ??= {})[o.room] = created.id;
  });
  return created;
}

/**
 * A room given by id: joins it and its ancestors, root first (`members.join` is
 * idempotent). The ancestors come from the room's `path` when the server shows the room
 * to a non-member, else from --community <uuid> or the directory file.
 */
async function joinRoomById(client: GuildhallClient, o: Options, roomId: string): Promise<Scope> {
  let chain: string[] | undefined;
  try {
    const room = await client.scopes.get.query({ scopeId: roomId });
    chain = [...room.path, roomId];
  } catch (err) {
    if (codeOf(err) !== 'FORBIDDEN') throw err; // servers that show scopes to members only
  }
  if (!chain) {
    let communityId: string | undefined = UUID.test(o.community) ? o.community : undefined;
    if (!communityId) {
      const entry = serverEntry(readDirectory(), o.url);
      communityId = Object.keys(entry.rooms).find((id) => Object.values(entry.rooms[id] ?? {}).includes(roomId));
    }
    if (!communityId) {
      throw new Error(`you are not a member of room ${roomId}; pass its community's id with --community <uuid> to join it`);
    }
    chain = [communityId, roomId];
  }
  for (const scopeId of chain) await client.members.join.mutate({ scopeId });
  return client.scopes.get.query({ scopeId: roomId });
}

// ---------------------------------------------------------------- the chat

async function main(o: Options): Promise<void> {
  const { auth, created } = await signInOrUp(o);
  const me = auth.user;
  console.log(`${created ? 'created the account of' : 'signed in as'} ${clean(me.displayName)} <${me.email}> on ${o.url}`);

  // ---- output that keeps the line being typed intact
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let rl: readline.Interface | null = null;
  let quitting = false;
  const print = (line: string): void => {
    if (rl && tty && !quitting) {
      readline.cursorTo(process.stdout, 0);
      readline.clearLine(process.stdout, 0);
      process.stdout.write(`${line}\n`);
      rl.prompt(true);
    } else {
      process.stdout.write(`${line}\n`);
    }
  };

  let disconnected = false;
  const client = createClient({
    url: o.url,
    token: auth.token,
    onWsStateChange: (state) => {
      if (quitting) return;
      if (state === 'connecting' && !disconnected) {
        disconnected = true;
        print('(connection lost; reconnecting…)');
      } else if (state === 'pending' && disconnected) {
        disconnected = false;
        print('(reconnected)');
      }
    },
  });

  const room = await findOrCreateRoom(client, o);
  const communityId = room.path[0] ?? room.parentId ?? '?';
  console.log(`room #${clean(room.name)} (room id ${room.id}, community id ${communityId})`);

  // ---- names: a message carries its author's id; the room's member list has the
  // display names. It is read at start and again when an id is not in it yet (a new
  // member, or an author who has left since: then the short id is all there is).
  const names = new Map<string, string>([[me.id, me.displayName]]);
  const loadNames = async (): Promise<void> => {
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const members = await client.members.list.query({ scopeId: room.id, limit: 100, ...(cursor ? { cursor } : {}) });
      for (const m of members.items) names.set(m.userId, m.displayName);
      if (!members.nextCursor) return;
      cursor = members.nextCursor;
    }
  };
  const asked = new Set<string>();
  /** Makes sure `userIds` have names, reading the member list once per id not seen yet. */
  const learnNames = async (userIds: string[]): Promise<void> => {
    const unknown = userIds.filter((id) => !names.has(id) && !asked.has(id));
    if (unknown.length === 0) return;
    for (const id of unknown) asked.add(id);
    await loadNames().catch(() => undefined);
  };
  const nameOf = (userId: string): string => clean(names.get(userId) ?? `user:${userId.slice(0, 8)}`);
  await loadNames();
  // Sends reject blank bodies, so an empty body is a message deleted since.
  const format = (m: Message) => `[${timeOf(m.createdAt)}] ${nameOf(m.authorId)}: ${m.body ? clean(m.body) : '(deleted)'}`;

  // ---- history
  const page = await client.messages.list.query({ scopeId: room.id, limit: HISTORY });
  const history = [...page.items].reverse();
  await learnNames(history.map((m) => m.authorId));
  if (page.nextBeforeSeq !== null) console.log(`… (older messages not shown)`);
  for (const m of history) console.log(format(m));
  if (history.length === 0) console.log('(no messages yet)');
  let lastSeq = history.at(-1)?.seq ?? 0;

  // ---- live: every message, ours included, is printed from here (and only here).
  // Events are handled one at a time, in order, even when one needs a fetch.
  let seqWaiter: (() => void) | null = null;
  let started = false;
  let display: Promise<void> = Promise.resolve();
  const show = async (ev: ScopeStreamEvent) => {
    if (ev.seq <= lastSeq) return;
    if (ev.type === 'resync.required') {
      // Too far behind to replay (a long disconnect): show the latest messages instead.
      lastSeq = ev.seq;
      const latest = await client.messages.list.query({ scopeId: room.id, limit: HISTORY });
      print(`… (${ev.missed} events missed while away; the latest messages follow)`);
      for (const m of [...latest.items].reverse()) if (m.seq <= ev.seq) print(format(m));
      return;
    }
    lastSeq = ev.seq;
    if (ev.type === 'message.created' || ev.type === 'message.edited') await learnNames([ev.message.authorId]);
    if (ev.type === 'member.joined') await learnNames([ev.userId]);
    const at = `[${timeOf(ev.at)}]`;
    switch (ev.type) {
      case 'message.created':
        print(format(ev.message));
        break;
      case 'message.edited':
        print(`${at} ${nameOf(ev.message.authorId)} edited a message: ${ev.message.body ? clean(ev.message.body) : '(deleted)'}`);
        break;
      case 'message.deleted':
        print(`${at} (a message was deleted)`);
        break;
      case 'member.joined':
        print(`${at} * ${nameOf(ev.userId)} joined`);
        break;
      case 'member.left':
        print(`${at} * ${nameOf(ev.userId)} left`);
        break;
      case 'poll.created': {
        const poll = await client.polls.get.query({ pollId: ev.pollId });
        polls.set(poll.id, poll);
        latestPoll = poll;
        print(`${at} 📊 ${nameOf(poll.createdBy)} asks: ${clean(poll.question)}`);
        poll.options.forEach((opt, i) => print(`    ${i + 1}. ${clean(opt.text)}`));
        print('    (vote with /vote N)');
        break;
      }
      case 'poll.updated':
      case 'poll.closed': {
        const poll = polls.get(ev.pollId) ?? (await client.polls.get.query({ pollId: ev.pollId }).catch(() => null));
        if (!poll) break;
        polls.set(poll.id, poll);
        const counts = poll.options.map((opt) => ev.counts?.find((c) => c.optionId === opt.id)?.count ?? null);
        const label = ev.type === 'poll.closed' ? 'final' : 'live';
        print(`${at} 📊 ${label}: ${clean(poll.question)} — ${clean(resultsLine(poll.options, counts, ev.voterCount))}`);
        break;
      }
      default:
        break; // reactions, pins and whatever this client does not show
    }
  };
  const polls = new Map<string, PollView>();
  let latestPoll: PollView | null = null;
  const sub = client.messages.onEvent.subscribe(
    { scopeId: room.id, lastEventId: String(lastSeq) },
    {
      onStarted: () => {
        if (started) return; // it starts again after each reconnect
        started = true;
        print('--- live: type a message and press Enter; /quit or Ctrl-D to leave ---');
      },
      onData: ({ data }) => {
        display = display
          .then(() => show(data))
          .catch((err: unknown) => print(`! ${messageOf(err)}`))
          .then(() => seqWaiter?.());
      },
      onError: (err) => {
        if (quitting) return;
        print(`! live updates stopped: ${messageOf(err)}`);
        void quit(1);
      },
    },
  );

  // ---- input: sent one at a time, in the order typed
  let sendChain: Promise<void> = Promise.resolve();
  let highestSent = 0;
  const send = (body: string) => {
    sendChain = sendChain.then(async () => {
      try {
        const m = await client.messages.send.mutate({ scopeId: room.id, body, nonce: randomUUID() });
        highestSent = Math.max(highestSent, m.seq);
      } catch (err) {
        const excerpt = body.length > 60 ? `${body.slice(0, 60)}…` : body;
        print(`! not sent (${messageOf(err)}): ${clean(excerpt)}`);
      }
    });
  };

  const pollCommand = (line: string) => {
    const parsed = parsePoll(line);
    if ('error' in parsed) return print(parsed.error);
    sendChain = sendChain.then(async () => {
      try {
        const poll = await client.polls.create.mutate({ scopeId: room.id, question: parsed.question, options: parsed.options.map((text) => ({ text })), nonce: randomUUID() });
        highestSent = Math.max(highestSent, (await client.messages.get.query({ scopeId: room.id, messageId: poll.messageId })).seq);
      } catch (err) {
        print(`! poll not posted (${messageOf(err)})`);
      }
    });
  };
  const voteCommand = (line: string) => {
    const poll = latestPoll;
    if (!poll) return print('no poll yet: post one with /poll "Question" "A" "B"');
    const picks = parseVote(line, poll.options.length);
    if ('error' in picks) return print(picks.error);
    void client.polls.vote
      .mutate({ pollId: poll.id, optionIds: picks.map((i) => poll.options[i]!.id) })
      .then((seen) => print(`(you voted: ${seen.myVote?.map((id) => clean(seen.options.find((o) => o.id === id)?.text ?? '?')).join(', ')})`))
      .catch((err: unknown) => print(`! vote not counted (${messageOf(err)})`));
  };

  /** Waits (a little) until the subscription has shown everything we sent. */
  const shownOwnMessages = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3_000);
      const check = () => {
        if (lastSeq >= highestSent) {
          clearTimeout(timer);
          seqWaiter = null;
          resolve();
        }
      };
      seqWaiter = check;
      check();
    });

  async function quit(code: number): Promise<void> {
    if (quitting) return;
    quitting = true;
    rl?.close();
    if (code === 0) {
      await sendChain;
      await shownOwnMessages();
    }
    sub.unsubscribe();
    closeClient(client);
    // The token lives only in this process; revoke it rather than leave it valid.
    await Promise.race([client.auth.signOut.mutate().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
    process.exit(code);
  }

  rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: tty });
  rl.on('line', (input) => {
    if (quitting) return;
    if (tty) {
      // Erase the typed line: the message appears once, when it comes back from the server.
      const rows = Math.max(1, Math.ceil((2 + input.length) / (process.stdout.columns || 80)));
      readline.moveCursor(process.stdout, 0, -rows);
      readline.clearScreenDown(process.stdout);
    }
    const body = input.trim();
    if (body === '/quit') return void quit(0);
    if (body.startsWith('/poll ') || body === '/poll') pollCommand(body);
    else if (body.startsWith('/vote')) voteCommand(body);
    else if (body) send(body);
    if (tty) rl?.prompt();
  });
  rl.on('close', () => void quit(0)); // Ctrl-D or the end of piped input
  rl.on('SIGINT', () => void quit(0)); // Ctrl-C at the prompt
  process.on('SIGTERM', () => void quit(0));
  if (tty) rl.prompt();
}

const options = readOptions();
main(options).catch((err: unknown) => {
  const msg = messageOf(err);
  const cause = err instanceof Error && err.cause instanceof Error ? messageOf(err.cause) : '';
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(`${msg} ${cause}`)) {
    process.stderr.write(
      `chat: cannot reach the server at ${options.url} (${msg}); is it running? Start it with npm start, or pass --url\n`,
    );
  } else {
    process.stderr.write(`chat: ${msg}\n`);
  }
  process.exit(1);
});
