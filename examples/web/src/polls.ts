import type { GuildhallClient, PollScopeEvent, PollView, ResultsVisibility } from '@guildhall/sdk';
import { describeError } from './session.js';

/** What the composer's poll form asks for. */
export interface NewPoll {
  question: string;
  options: string[];
  multiple: boolean;
  resultsVisibility: ResultsVisibility;
}

/**
 * The polls of one open conversation, keyed by the message that carries each. A poll is
 * drawn inside its message's line (`element()` when the line is made, `redraw` after),
 * kept live from the scope stream (`poll.updated`, `poll.closed`, `poll.option_added`), and
 * voted on with `polls.vote` / `polls.retract`. Counts are shown only when the server
 * sends them (`resultsVisible`): an `afterVote` poll hides them until you vote, an
 * `afterClose` poll from everyone until it closes.
 */
export class Polls {
  private readonly byMessage = new Map<string, PollView>();

  constructor(
    private readonly client: GuildhallClient,
    private readonly meId: string,
    /** The line of a message, when it is shown. */
    private readonly lineOf: (messageId: string) => HTMLLIElement | undefined,
    private readonly onError: (text: string) => void,
  ) {}

  /** Posts a poll in `scopeId` (a message carrying it); the poll shows as soon as the call returns. */
  async create(scopeId: string, p: NewPoll): Promise<void> {
    const view = await this.client.polls.create.mutate({
      scopeId,
      question: p.question,
      options: p.options.map((text) => ({ text })),
      maxChoices: p.multiple ? p.options.length : 1,
      resultsVisibility: p.resultsVisibility,
      nonce: crypto.randomUUID(),
    });
    this.set(view);
  }

  /** Learns the polls of a page of history (one `polls.forMessages` call). */
  async loadFor(scopeId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    for (const view of await this.client.polls.forMessages.query({ scopeId, messageIds: messageIds.slice(0, 100) })) this.set(view);
  }

  /** The poll box for a message's line, or null when it carries none (yet). */
  element(messageId: string): HTMLElement | null {
    const view = this.byMessage.get(messageId);
    return view ? this.render(view) : null;
  }

  /** Applies a poll event of the scope stream. */
  async apply(ev: PollScopeEvent): Promise<void> {
    const view = this.byMessage.get(ev.messageId);
    switch (ev.type) {
      case 'poll.created':
      case 'poll.option_added':
        this.set(await this.client.polls.get.query({ pollId: ev.pollId }));
        return;
      case 'poll.updated':
        if (!view) return;
        view.voterCount = ev.voterCount;
        // Null: hidden from this receiver; keep what it may already see.
        if (ev.counts) this.setCounts(view, ev.counts);
        this.redraw(view);
        return;
      case 'poll.closed':
        if (!view) return;
        view.voterCount = ev.voterCount;
        view.closed = true;
        this.setCounts(view, ev.counts);
        this.redraw(view);
        return;
      default:
        return; // surveys are not shown by this small client
    }
  }

  private setCounts(view: PollView, counts: { optionId: string; count: number }[]): void {
    const byId = new Map(counts.map((c) => [c.optionId, c.count]));
    for (const o of view.options) o.count = byId.get(o.id) ?? o.count ?? 0;
    view.resultsVisible = true;
  }

  private set(view: PollView): void {
    this.byMessage.set(view.messageId, view);
    this.redraw(view);
  }

  private redraw(view: PollView): void {
    const li = this.lineOf(view.messageId);
    if (!li || li.classList.contains('deleted')) return;
    const box = this.render(view);
    const old = li.querySelector('.poll');
    if (old) old.replaceWith(box);
    else li.append(box);
  }

  private async vote(view: PollView, optionIds: string[] | null): Promise<void> {
    try {
      const next = optionIds ? await this.client.polls.vote.mutate({ pollId: view.id, optionIds }) : await this.client.polls.retract.mutate({ pollId: view.id });
      this.set(next);
    } catch (err) {
      this.onError(`vote not counted: ${describeError(err)}`);
    }
  }

  private render(view: PollView): HTMLElement {
    const box = el('div', 'poll');
    box.dataset.pollId = view.id;
    box.dataset.closed = String(view.closed);
    box.dataset.resultsVisible = String(view.resultsVisible);
    box.append(el('p', 'question', view.question));
    const multiple = view.maxChoices > 1;
    const locked = view.closed || (view.myVote !== null && !view.allowVoteChange);
    const total = view.options.reduce((n, o) => n + (o.count ?? 0), 0);
    const list = el('ul', 'options');
    for (const o of view.options) {
      const item = el('li', 'option');
      item.dataset.optionId = o.id;
      const label = el('label');
      const input = document.createElement('input');
      input.type = multiple ? 'checkbox' : 'radio';
      input.name = `poll-${view.id}`;
      input.value = o.id;
      input.checked = view.myVote?.includes(o.id) ?? false;
      input.disabled = locked;
      label.append(input, ` ${o.emoji ? `${o.emoji} ` : ''}${o.text}`);
      item.append(label);
      if (view.resultsVisible && o.count !== null) {
        item.append(el('span', 'count', String(o.count)));
        const bar = el('span', 'bar');
        bar.style.width = `${total ? Math.round((o.count / total) * 100) : 0}%`;
        item.append(bar);
      }
      list.append(item);
    }
    box.append(list);

    const meta = [`${view.voterCount} ${view.voterCount === 1 ? 'voter' : 'voters'}`, multiple ? `choose up to ${view.maxChoices}` : 'one choice'];
    if (view.closed) meta.push('closed');
    else if (!view.resultsVisible) meta.push(view.resultsVisibility === 'afterClose' ? 'results hidden until it closes' : 'results shown after you vote');
    box.append(el('p', 'poll-meta muted', meta.join(' · ')));

    if (!locked) {
      const actions = el('div', 'row');
      const voteButton = el('button', 'vote', view.myVote ? 'Change vote' : 'Vote');
      voteButton.type = 'button';
      voteButton.addEventListener('click', () => {
        const chosen = [...list.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
        if (chosen.length === 0) return this.onError('choose an option first');
        void this.vote(view, chosen);
      });
      actions.append(voteButton);
      if (view.myVote && view.allowVoteChange) {
        const retract = el('button', 'link retract', 'Remove my vote');
        retract.type = 'button';
        retract.addEventListener('click', () => void this.vote(view, null));
        actions.append(retract);
      }
      if (view.createdBy === this.meId) {
        const close = el('button', 'link close-poll', 'Close poll');
        close.type = 'button';
        close.addEventListener('click', () => void this.client.polls.close.mutate({ pollId: view.id }).then((v) => this.set(v), (err: unknown) => this.onError(describeError(err))));
        actions.append(close);
      }
      box.append(actions);
    }
    return box;
  }
}

/** Reads the composer's poll form: a question and its non-empty options. */
export function readPollForm(form: HTMLFormElement): NewPoll {
  const data = new FormData(form);
  const visibility = String(data.get('resultsVisibility') ?? 'always');
  return {
    question: String(data.get('question') ?? '').trim(),
    options: data
      .getAll('option')
      .map((v) => String(v).trim())
      .filter((v) => v !== ''),
    multiple: data.get('multiple') === 'on',
    resultsVisibility: visibility === 'afterVote' || visibility === 'afterClose' ? visibility : 'always',
  };
}

/** Adds one more option field to the poll form (up to 20). */
export function addOptionField(form: HTMLFormElement): void {
  const box = form.querySelector('.poll-options')!;
  const n = box.querySelectorAll('input').length;
  if (n >= 20) return;
  const input = document.createElement('input');
  input.name = 'option';
  input.maxLength = 100;
  input.placeholder = `Option ${n + 1}`;
  input.setAttribute('aria-label', `Option ${n + 1}`);
  box.append(input);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
