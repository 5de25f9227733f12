/**
 * A small browser chat on the Guildhall SDK only: sign up or in, your communities and
 * rooms with unread counts, join by invite code, a live conversation with history paging,
 * typing notices and presence, resumed after the network drops; polls and file uploads
 * from the composer. `npm run web` serves it.
 */
import { UploadTray } from './attachments.js';
import { Conversation, type ConversationView } from './conversation.js';
import { addOptionField, readPollForm } from './polls.js';
import { describeError, resume, SERVER_URL, signIn, signOut, type ConnectionState, type Session } from './session.js';
import { loadCommunities, renderTree, type SidebarNode } from './tree.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const view: ConversationView = {
  title: $('title'),
  members: $('members'),
  timeline: $('timeline'),
  messages: $('messages'),
  older: $('older'),
  typing: $('typing'),
  composer: $('composer'),
  error: $('conversation-error'),
};

let session: Session | null = null;
let conversation: Conversation | null = null;
let communities: SidebarNode[][] = [];
let stopUserStream: (() => void) | null = null;
let tray: UploadTray | null = null;

$('server-line').textContent = `Server: ${SERVER_URL}`;

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Connection lost, reconnecting… (you will miss nothing)',
};
function showConnection(state: ConnectionState): void {
  const el = $('connection');
  el.dataset.state = state;
  el.textContent = CONNECTION_TEXT[state];
}

// ------------------------------------------------------------------ sign-in

$<HTMLFormElement>('auth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const mode = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value === 'signUp' ? 'signUp' : 'signIn';
  const data = new FormData(form);
  const error = $('auth-error');
  error.textContent = '';
  signIn(mode, { email: String(data.get('email')), password: String(data.get('password')), displayName: String(data.get('displayName') ?? '').trim() }, showConnection)
    .then(enter)
    .catch((err: unknown) => (error.textContent = describeError(err)));
});

$('sign-out').addEventListener('click', () => {
  if (!session) return;
  const s = session;
  leave();
  void signOut(s);
});

async function enter(s: Session): Promise<void> {
  session = s;
  tray = new UploadTray(s.client, $('upload-tray'));
  $('auth').hidden = true;
  $('chat').hidden = false;
  $('me-name').textContent = s.me.displayName;
  showConnection('connecting');
  followUserStream(s);
  await refreshTree();
}

function leave(): void {
  conversation?.close();
  conversation = null;
  stopUserStream?.();
  session = null;
  $('chat').hidden = true;
  $('auth').hidden = false;
}

/**
 * Unread counts and memberships change elsewhere too: the user's own stream says when.
 * Its unread notices cover the scopes the user belonged to when it started, so after a
 * membership change it is started again, after the last event it delivered.
 */
function followUserStream(s: Session, lastEventId: string | null = null): void {
  let last = lastEventId;
  const sub = s.client.me.onEvent.subscribe(
    { lastEventId },
    {
      onData: ({ id, data }) => {
        if (data.type === 'unread.changed') return setUnread(data.scopeId, data.unread, data.mentions);
        last = id;
        if (data.type === 'membership.changed' || data.type === 'dm.opened') {
          void refreshTree();
          if (data.type === 'membership.changed' && session === s) {
            sub.unsubscribe();
            followUserStream(s, last);
          }
        }
      },
      onError: (err) => ($('sidebar-error').textContent = describeError(err)),
    },
  );
  stopUserStream = () => sub.unsubscribe();
}

// ------------------------------------------------------------------ sidebar

async function refreshTree(): Promise<void> {
  if (!session) return;
  try {
    communities = await loadCommunities(session.client);
    drawTree();
  } catch (err) {
    $('sidebar-error').textContent = describeError(err);
  }
}

function drawTree(): void {
  renderTree($('tree'), communities, conversation?.scope.id ?? null, (node) => void pick(node));
}

function setUnread(scopeId: string, unread: number, mentions: number): void {
  for (const nodes of communities) {
    const node = nodes.find((n) => n.id === scopeId);
    if (node) {
      node.unreadCount = scopeId === conversation?.scope.id && document.visibilityState === 'visible' ? 0 : unread;
      node.mentionCount = mentions;
    }
  }
  drawTree();
}

async function pick(node: SidebarNode): Promise<void> {
  if (!session) return;
  const error = $('sidebar-error');
  error.textContent = '';
  try {
    // Public scopes are listed before you join them; opening one joins it.
    if (!node.isMember) {
      await session.client.members.join.mutate({ scopeId: node.id });
      await refreshTree();
    }
    await open(node.id);
  } catch (err) {
    error.textContent = describeError(err);
  }
}

async function open(scopeId: string): Promise<void> {
  if (!session) return;
  conversation?.close();
  conversation = null;
  tray?.clear();
  $('invite-code').textContent = '';
  conversation = await Conversation.open(session.client, session.me, scopeId, view, (id) => setUnread(id, 0, 0));
  $('conversation').hidden = false;
  $('empty').hidden = true;
  $<HTMLFormElement>('room-form').hidden = conversation.scope.kind === 'room' || conversation.scope.kind === 'dm';
  drawTree();
  view.composer.querySelector('input')!.focus();
}

$<HTMLFormElement>('community-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const name = String(new FormData(form).get('name')).trim();
  if (!session || !name) return;
  session.client.scopes.create
    .mutate({ kind: 'community', name })
    .then(async (scope) => {
      form.reset();
      await refreshTree();
      await open(scope.id);
    })
    .catch((err: unknown) => ($('sidebar-error').textContent = describeError(err)));
});

$<HTMLFormElement>('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const code = String(new FormData(form).get('code')).trim();
  if (!session || !code) return;
  $('sidebar-error').textContent = '';
  session.client.invites.redeem
    .mutate({ code })
    .then(async ({ scope }) => {
      form.reset();
      await refreshTree();
      await open(scope.id);
    })
    .catch((err: unknown) => ($('sidebar-error').textContent = describeError(err)));
});

// ------------------------------------------------------------------ conversation

$<HTMLFormElement>('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const name = String(new FormData(form).get('name')).trim();
  if (!session || !conversation || !name) return;
  // A room needs a parent: the community or group open now.
  session.client.scopes.create
    .mutate({ kind: 'room', parentId: conversation.scope.id, name })
    .then(async (room) => {
      form.reset();
      await refreshTree();
      await open(room.id);
    })
    .catch((err: unknown) => (view.error.textContent = describeError(err)));
});

$('invite').addEventListener('click', () => {
  if (!session || !conversation) return;
  session.client.invites.create
    .mutate({ scopeId: conversation.scope.id })
    .then((invite) => ($('invite-code').textContent = invite.code))
    .catch((err: unknown) => (view.error.textContent = describeError(err)));
});

view.older.addEventListener('click', () => void conversation?.loadOlder().catch((err: unknown) => (view.error.textContent = describeError(err))));

view.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const input = view.composer.querySelector('input')!;
  const body = input.value.trim();
  const c = conversation;
  if (!c || (!body && (!tray || tray.isEmpty))) return;
  input.value = '';
  view.error.textContent = '';
  // Files chosen since the last send go with this message (once their uploads finish).
  void (tray ? tray.take() : Promise.resolve([])).then((ids) => (body || ids.length ? c.send(body, ids) : undefined));
});

// ------------------------------------------------------------------ polls and files (#composer-extras)

const pollForm = $<HTMLFormElement>('poll-form');
$('poll-toggle').addEventListener('click', () => {
  pollForm.hidden = !pollForm.hidden;
  $('poll-toggle').setAttribute('aria-expanded', String(!pollForm.hidden));
  if (!pollForm.hidden) pollForm.querySelector('input')!.focus();
});
$('poll-add-option').addEventListener('click', () => addOptionField(pollForm));
pollForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!conversation) return;
  view.error.textContent = '';
  conversation
    .createPoll(readPollForm(pollForm))
    .then(() => {
      pollForm.reset();
      for (const extra of [...pollForm.querySelectorAll('.poll-options input')].slice(2)) extra.remove();
      pollForm.hidden = true;
      $('poll-toggle').setAttribute('aria-expanded', 'false');
    })
    .catch((err: unknown) => (view.error.textContent = `poll not posted: ${describeError(err)}`));
});

const attachInput = $<HTMLInputElement>('attach-input');
attachInput.addEventListener('change', () => {
  if (conversation && tray && attachInput.files) tray.add(conversation.scope.id, attachInput.files);
  attachInput.value = '';
});
view.composer.querySelector('input')!.addEventListener('input', () => conversation?.typed());

// Idle when the tab is hidden, online again when it comes back (presence.set).
document.addEventListener('visibilitychange', () => {
  void session?.client.presence.set.mutate({ status: document.visibilityState === 'visible' ? 'online' : 'idle' }).catch(() => undefined);
});

// ------------------------------------------------------------------ start

void resume(showConnection).then((s) => (s ? enter(s) : undefined));
