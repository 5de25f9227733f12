import type { GuildhallClient, Message, PresenceStatus, Scope, ScopeStreamEvent, User } from '@guildhall/sdk';
import { renderAttachments, updateAttachment } from './attachments.js';
import { Polls, type NewPoll } from './polls.js';
import { describeError } from './session.js';

const PAGE = 30;
/** Send `typing.start` at most this often while the user types (ms); a notice lasts 6 s. */
const TYPING_EVERY_MS = 3_000;

export interface ConversationView {
  title: HTMLElement;
  members: HTMLUListElement;
  timeline: HTMLElement;
  messages: HTMLOListElement;
  older: HTMLButtonElement;
  typing: HTMLElement;
  composer: HTMLFormElement;
  error: HTMLElement;
}

/**
 * One open conversation: its history (paged backwards with `messages.list` on seq), the
 * live feed (`messages.onEvent` from the scope's last seq, so nothing between the page and
 * the feed is lost or shown twice; after a network drop the SDK resumes it from the last
 * event it received), typing notices and the members' presence. Messages show their
 * files (attachments.ts) and polls (polls.ts), both kept live from the same feed.
 */
export class Conversation {
  private readonly byId = new Map<string, HTMLLIElement>();
  private readonly names = new Map<string, string>();
  private readonly typingUntil = new Map<string, number>();
  private readonly stops: (() => void)[] = [];
  private nextBeforeSeq: number | null = null;
  private lastTypingSent = 0;
  private closed = false;
  private readonly namesAsked = new Set<string>();
  private readonly polls: Polls;
  /** Feed events are applied one at a time, in order (a poll's fetch must not overtake its updates). */
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: GuildhallClient,
    private readonly me: User,
    readonly scope: Scope,
    private readonly view: ConversationView,
    private readonly onRead: (scopeId: string) => void,
  ) {
    this.polls = new Polls(client, me.id, (id) => this.byId.get(id), (text) => (view.error.textContent = text));
  }

  /** Opens `scopeId`: loads the latest page and the members, then goes live. */
  static async open(client: GuildhallClient, me: User, scopeId: string, view: ConversationView, onRead: (scopeId: string) => void): Promise<Conversation> {
    // The scope (with its last seq) before the page: events after it come from the feed.
    const scope = await client.scopes.get.query({ scopeId });
    const c = new Conversation(client, me, scope, view, onRead);
    view.title.textContent = scope.kind === 'room' ? `# ${scope.name}` : scope.name;
    view.messages.replaceChildren();
    view.error.textContent = '';
    await c.loadMembers();
    const page = await client.messages.list.query({ scopeId, limit: PAGE });
    await c.polls.loadFor(scopeId, page.items.map((m) => m.id));
    c.prepend(page.items);
    c.nextBeforeSeq = page.nextBeforeSeq;
    view.older.hidden = page.nextBeforeSeq === null;
    c.scrollToEnd();
    c.live(scope.lastSeq);
    c.markRead(scope.lastSeq);
    return c;
  }

  /** Loads the page before the oldest message shown. */
  async loadOlder(): Promise<void> {
    if (this.nextBeforeSeq === null) return;
    const height = this.view.timeline.scrollHeight;
    const page = await this.client.messages.list.query({ scopeId: this.scope.id, beforeSeq: this.nextBeforeSeq, limit: PAGE });
    await this.learnNames(page.items.map((m) => m.authorId));
    await this.polls.loadFor(this.scope.id, page.items.map((m) => m.id));
    this.prepend(page.items);
    this.nextBeforeSeq = page.nextBeforeSeq;
    this.view.older.hidden = page.nextBeforeSeq === null;
    this.view.timeline.scrollTop += this.view.timeline.scrollHeight - height;
  }

  /**
   * Sends `body` (and the uploaded files `attachmentIds`) with a fresh nonce; a pending
   * line shows until the feed brings it back.
   */
  async send(body: string, attachmentIds: string[] = []): Promise<void> {
    const nonce = crypto.randomUUID();
    const pending = this.renderMessage({ authorId: this.me.id, body, createdAt: new Date() });
    pending.classList.add('pending');
    pending.dataset.nonce = nonce;
    this.view.messages.append(pending);
    this.scrollToEnd();
    try {
      // A retry with the same nonce would return this message, not send it twice.
      const m = await this.client.messages.send.mutate({ scopeId: this.scope.id, body, nonce, ...(attachmentIds.length ? { attachmentIds } : {}) });
      // The answer and the conversation's events race: once message.created has shown the
      // message, later events (an edit, its files ready) are newer than this answer.
      if (!this.byId.has(m.id)) this.upsert(m);
    } catch (err) {
      pending.remove();
      this.view.error.textContent = `not sent: ${describeError(err)}`;
    }
  }

  /** Posts a poll here (a message carrying it). */
  async createPoll(p: NewPoll): Promise<void> {
    await this.polls.create(this.scope.id, p);
  }

  /** Tells the others the user is typing (throttled). */
  typed(): void {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    void this.client.typing.start.mutate({ scopeId: this.scope.id }).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    for (const stop of this.stops.splice(0)) stop();
  }

  // ------------------------------------------------------------------ live

  private live(lastSeq: number): void {
    const events = this.client.messages.onEvent.subscribe(
      { scopeId: this.scope.id, lastEventId: String(lastSeq) },
      {
        onData: ({ data }) => {
          this.queue = this.queue.then(() => this.apply(data)).catch((err: unknown) => void (this.view.error.textContent = describeError(err)));
        },
        onError: (err) => (this.view.error.textContent = `live updates stopped: ${describeError(err)}`),
      },
    );
    const typing = this.client.typing.onEvent.subscribe(
      { scopeId: this.scope.id },
      {
        onData: (t) => {
          if (t.userId === this.me.id) return;
          this.typingUntil.set(t.userId, t.until.getTime());
          this.renderTyping();
        },
      },
    );
    const timer = setInterval(() => this.renderTyping(), 1_000);
    this.stops.push(() => events.unsubscribe(), () => typing.unsubscribe(), () => clearInterval(timer));
  }

  private async apply(ev: ScopeStreamEvent): Promise<void> {
    if (this.closed) return;
    switch (ev.type) {
      case 'message.created':
      case 'message.edited':
        await this.learnNames([ev.message.authorId]);
        this.typingUntil.delete(ev.message.authorId);
        this.renderTyping();
        this.upsert(ev.message);
        if (ev.type === 'message.created') this.markRead(ev.seq);
        break;
      case 'message.deleted': {
        const li = this.byId.get(ev.messageId);
        if (li) {
          li.classList.add('deleted');
          li.querySelector('.body')!.textContent = '(deleted)';
          for (const part of li.querySelectorAll('.poll, .attachments')) part.remove();
        }
        break;
      }
      case 'attachment.updated': {
        const li = ev.messageId ? this.byId.get(ev.messageId) : undefined;
        if (li && !li.classList.contains('deleted')) await this.keepingEnd(() => updateAttachment(this.client, li, ev.attachment));
        break;
      }
      case 'poll.created':
      case 'poll.updated':
      case 'poll.option_added':
      case 'poll.closed':
        await this.keepingEnd(() => this.polls.apply(ev));
        break;
      case 'member.joined':
      case 'member.left':
        await this.loadMembers();
        break;
      case 'resync.required': {
        // Too far behind to replay (a long time offline): show the latest page instead.
        const page = await this.client.messages.list.query({ scopeId: this.scope.id, limit: PAGE });
        await this.polls.loadFor(this.scope.id, page.items.map((m) => m.id));
        this.view.messages.replaceChildren();
        this.byId.clear();
        this.prepend(page.items);
        this.nextBeforeSeq = page.nextBeforeSeq;
        this.view.older.hidden = page.nextBeforeSeq === null;
        this.scrollToEnd();
        break;
      }
      default:
        // Reactions, pins, surveys and calendar events are not shown by this small client.
        break;
    }
  }

  /** Reads the read marker forward while the page is visible, so the unread badge clears. */
  private markRead(seq: number): void {
    if (document.visibilityState !== 'visible' || seq <= 0) return;
    void this.client.readState.mark
      .mutate({ scopeId: this.scope.id, seq })
      .then(() => this.onRead(this.scope.id))
      .catch(() => undefined);
  }

  // ------------------------------------------------------------------ members, names, presence

  private presenceStop: (() => void) | null = null;

  private async loadMembers(): Promise<void> {
    const page = await this.client.members.list.query({ scopeId: this.scope.id, limit: 100 });
    for (const m of page.items) this.names.set(m.userId, m.displayName);
    const ids = page.items.map((m) => m.userId);
    this.view.members.replaceChildren(
      ...page.items.map((m) => {
        const li = document.createElement('li');
        li.dataset.userId = m.userId;
        li.dataset.status = 'offline';
        li.textContent = m.userId === this.me.id ? `${m.displayName} (you)` : m.displayName;
        return li;
      }),
    );
    this.presenceStop?.();
    if (ids.length === 0 || this.closed) return;
    const sub = this.client.presence.onEvent.subscribe(
      { userIds: ids.slice(0, 200) },
      { onData: (p) => this.setPresence(p.userId, p.status) },
    );
    this.presenceStop = () => sub.unsubscribe();
    this.stops.push(() => this.presenceStop?.());
  }

  private setPresence(userId: string, status: PresenceStatus): void {
    const li = this.view.members.querySelector<HTMLLIElement>(`li[data-user-id="${CSS.escape(userId)}"]`);
    if (li) {
      li.dataset.status = status;
      li.title = status;
    }
  }

  /** Reads the member list again when an author is not in it yet (someone who just joined). */
  private async learnNames(userIds: string[]): Promise<void> {
    const unknown = userIds.filter((id) => !this.names.has(id) && !this.namesAsked.has(id));
    if (unknown.length === 0) return;
    for (const id of unknown) this.namesAsked.add(id);
    await this.loadMembers().catch(() => undefined);
  }

  private nameOf(userId: string): string {
    return this.names.get(userId) ?? `user ${userId.slice(0, 8)}`;
  }

  // ------------------------------------------------------------------ rendering

  private renderTyping(): void {
    const now = Date.now();
    const who = [...this.typingUntil].filter(([, until]) => until > now).map(([id]) => this.nameOf(id));
    for (const [id, until] of this.typingUntil) if (until <= now) this.typingUntil.delete(id);
    this.view.typing.textContent =
      who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.slice(0, -1).join(', ')} and ${who.at(-1)} are typing…`;
  }

  /** Adds messages (newest first, as `messages.list` returns them) above the ones shown. */
  private prepend(newestFirst: Message[]): void {
    for (const m of newestFirst) {
      if (this.byId.has(m.id)) continue;
      const li = this.renderMessage(m);
      this.byId.set(m.id, li);
      this.view.messages.prepend(li);
    }
  }

  /** Shows a message from the feed or a send: replaces its pending line or an older copy. */
  private upsert(m: Message): void {
    const existing = this.byId.get(m.id);
    const li = this.renderMessage(m);
    this.byId.set(m.id, li);
    const pending = m.nonce ? this.view.messages.querySelector<HTMLLIElement>(`li[data-nonce="${CSS.escape(m.nonce)}"]`) : null;
    if (existing) existing.replaceWith(li);
    else if (pending) pending.replaceWith(li);
    else {
      const atEnd = this.view.timeline.scrollHeight - this.view.timeline.scrollTop - this.view.timeline.clientHeight < 40;
      this.view.messages.append(li);
      if (atEnd || m.authorId === this.me.id) this.scrollToEnd();
    }
  }

  /** One message line: time, author, body, then its files and its poll (if any). */
  private renderMessage(m: Pick<Message, 'authorId' | 'body' | 'createdAt'> & Partial<Pick<Message, 'id' | 'seq' | 'deletedAt' | 'attachments'>>): HTMLLIElement {
    const li = document.createElement('li');
    if (m.id) li.dataset.messageId = m.id;
    if (m.seq !== undefined) li.dataset.seq = String(m.seq);
    const time = document.createElement('span');
    time.className = 'time';
    time.textContent = m.createdAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = this.nameOf(m.authorId);
    const body = document.createElement('span');
    body.className = 'body';
    // textContent, never innerHTML: other people's text is not markup.
    body.textContent = m.deletedAt ? '(deleted)' : m.body;
    if (m.deletedAt) li.classList.add('deleted');
    li.append(time, author, body);
    if (m.deletedAt) return li;
    if (m.attachments?.length) li.append(renderAttachments(this.client, m.attachments));
    const poll = m.id ? this.polls.element(m.id) : null;
    if (poll) li.append(poll);
    return li;
  }

  /** Runs `change` (a line grows or shrinks); a timeline scrolled to its end stays there. */
  private async keepingEnd(change: () => unknown): Promise<void> {
    const t = this.view.timeline;
    const atEnd = t.scrollHeight - t.scrollTop - t.clientHeight < 40;
    await change();
    if (atEnd) this.scrollToEnd();
  }

  private scrollToEnd(): void {
    this.view.timeline.scrollTop = this.view.timeline.scrollHeight;
  }
}
