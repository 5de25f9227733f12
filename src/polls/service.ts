import { and, asc, eq, gt, inArray, isNull, max, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pollOptions, polls, pollVotes, users } from '../db/schema/index.js';
import { limits } from '../config.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { appendEvent, lockScope, type Tx } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import type { MessageService } from '../messages/service.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import { requireCarried } from './carried-access.js';
import type { ScopeHub } from '../realtime/hub.js';
import type { OptionCount, ResultsVisibility } from './events.js';
import { publishEvents, type LiveResults, type LiveSnapshot, type LiveSource } from './live.js';
import { carriedWriteError, dueToClose, resultsBehind } from './sql.js';
import { setBounded } from '../infra/local-cache.js';
import { castVote } from './vote-sql.js';
import { shapeResultsFor } from './shape.js';
import type { PollOptionView, PollView, PollVoterPage } from './schemas.js';
import { isClosed, resultsVisible, sameSet, sharedResults } from './visibility.js';
import type { VoterKey } from './voter-key.js';

type PollRow = typeof polls.$inferSelect;
type OptionRow = typeof pollOptions.$inferSelect;
/** A poll's scope and anonymity: fixed once it exists (see PollService.facts). */
type PollFacts = { scopeId: string; anonymous: boolean };
/** Polls whose facts a process keeps (the oldest go first). */
const POLL_FACTS_MAX = 10_000;

/** What `polls.create` takes (already bounded by the router's zod schema). */
export interface CreatePoll {
  scopeId: string;
  question: string;
  options: { text: string; emoji?: string | undefined }[];
  minChoices?: number | undefined;
  maxChoices?: number | undefined;
  anonymous?: boolean | undefined;
  resultsVisibility?: ResultsVisibility | undefined;
  closesAt?: Date | undefined;
  allowVoteChange?: boolean | undefined;
  allowAddOptions?: boolean | undefined;
  /** Quiz: the indexes (into `options`) of the correct answers. */
  correctOptions?: number[] | undefined;
  explanation?: string | undefined;
  threadRootId?: string | undefined;
  nonce?: string | undefined;
}

/**
 * Polls carried by messages. The poll is created inside the carrying message's send
 * transaction (MessageService.send's `carry`), so a poll never exists without its
 * message, and a retried send (same nonce) returns the same poll. Tallies, the
 * one-vote rules and the close are enforced by triggers; this service checks input
 * first so people get clear errors, and maps the triggers' refusals (concurrent votes)
 * to the same errors.
 */
export class PollService implements LiveSource {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly hub: ScopeHub,
    private readonly messages: MessageService,
    private readonly key: VoterKey,
    private readonly live: () => LiveResults,
  ) {}

  /**
   * Posts a message carrying a new poll. The message body is the question.
   * Settings follow Discord (up to 10 answers there, 20 here), Telegram (anonymous, quiz,
   * hidden results) and Slack poll apps (scheduled close).
   * @throws Invalid (choices, closesAt, quiz rules, duplicate options), Forbidden (needs
   *   SendMessages and CreatePolls), NotFound, plus MessageService.send's errors.
   */
  async create(userId: string, input: CreatePoll): Promise<PollView> {
    await this.access.require(userId, input.scopeId, Permission.View | Permission.SendMessages | Permission.CreatePolls);
    const n = input.options.length;
    const minChoices = input.minChoices ?? 1;
    const maxChoices = input.maxChoices ?? Math.max(minChoices, 1);
    if (minChoices > maxChoices) throw invalid('minChoices must not be above maxChoices');
    if (maxChoices > n) throw invalid(`maxChoices is ${maxChoices} but the poll has ${n} options`);
    const texts = input.options.map((o) => o.text.trim().toLowerCase());
    if (new Set(texts).size !== n) throw invalid('two options have the same text; make each option different');
    if (input.closesAt) {
      const ahead = input.closesAt.getTime() - Date.now();
      if (ahead <= 0) throw invalid('closesAt must be in the future');
      if (ahead > limits.pollClosesAtMaxMs) throw invalid('closesAt may be at most one year ahead');
    }
    const quiz = input.correctOptions !== undefined;
    if (quiz) {
      const correct = new Set(input.correctOptions);
      if (correct.size === 0) throw invalid('a quiz needs at least one correct option');
      if ([...correct].some((i) => i >= n)) throw invalid(`correctOptions holds an index past the last option (${n - 1})`);
      if (correct.size > maxChoices) throw invalid(`a quiz with ${correct.size} correct options needs maxChoices of at least ${correct.size}`);
      if (input.allowVoteChange) throw invalid('a quiz vote is final: allowVoteChange cannot be set on a quiz');
      if (input.allowAddOptions) throw invalid('a quiz has the options its author wrote: allowAddOptions cannot be set on a quiz');
    } else if (input.explanation !== undefined) {
      throw invalid('explanation is for quizzes: give correctOptions too');
    }
    let pollId: string | null = null;
    const { message, events } = await this.messages.send(
      userId,
      { scopeId: input.scopeId, body: input.question, nonce: input.nonce, threadRootId: input.threadRootId },
      async (tx, msg) => {
        const [row] = await tx
          .insert(polls)
          .values({
            scopeId: input.scopeId,
            messageId: msg.id,
            createdBy: userId,
            question: input.question,
            minChoices,
            maxChoices,
            anonymous: input.anonymous ?? false,
            resultsVisibility: input.resultsVisibility ?? 'always',
            closesAt: input.closesAt ?? null,
            allowVoteChange: quiz ? false : (input.allowVoteChange ?? true),
            allowAddOptions: input.allowAddOptions ?? false,
            quiz,
            explanation: quiz ? (input.explanation ?? null) : null,
          })
          .returning();
        pollId = row!.id;
        await tx.insert(pollOptions).values(
          input.options.map((o, i) => ({
            pollId: row!.id,
            position: i,
            text: o.text,
            emoji: o.emoji ?? null,
            correct: quiz && input.correctOptions!.includes(i),
          })),
        );
        const ev = await appendEvent(tx, {
          scopeId: input.scopeId,
          type: 'poll.created',
          actorId: userId,
          messageId: msg.id,
          payload: { pollId: row!.id, messageId: msg.id, question: input.question },
        });
        return [toScopeEvent(ev, null)];
      },
    );
    await publishEvents(this.hub, events);
    if (!pollId) {
      // A retried send: the message (and its poll) already existed.
      const [existing] = await this.db.select({ id: polls.id }).from(polls).where(eq(polls.messageId, message.id));
      if (!existing) throw conflict('this nonce was already used for a message that carries no poll; use a new nonce');
      pollId = existing.id;
    }
    return this.view(userId, await this.row(this.db, pollId));
  }

  /**
   * A poll as the caller may see it: counts only when the visibility rule allows, the
   * caller's own vote, quiz answers after voting.
   * @throws NotFound (no such poll, or its scope is hidden), Forbidden (no View).
   */
  async get(userId: string, ref: { pollId?: string | undefined; messageId?: string | undefined }): Promise<PollView> {
    const row = ref.pollId ? await this.row(this.db, ref.pollId) : await this.byMessage(ref.messageId!);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `poll ${row.id}`);
    return this.view(userId, row);
  }

  /**
   * The polls carried by some messages of one scope, for a client showing a page of
   * history (`messages.list` says nothing of polls): each as `get` shows it, in the order
   * of `messageIds`; a message that carries none (or is of another scope) is left out.
   * @throws NotFound (unknown or hidden scope), Forbidden (no View).
   */
  async forMessages(userId: string, scopeId: string, messageIds: readonly string[]): Promise<PollView[]> {
    await this.access.require(userId, scopeId, Permission.View);
    const rows = await this.db
      .select()
      .from(polls)
      .where(and(eq(polls.scopeId, scopeId), inArray(polls.messageId, [...new Set(messageIds)])));
    if (rows.length === 0) return [];
    const order = new Map(messageIds.map((id, i) => [id, i]));
    rows.sort((a, b) => order.get(a.messageId)! - order.get(b.messageId)!);
    // Every poll's options, and the caller's choices in each, in one query apiece (not two per poll).
    const ids = rows.map((r) => r.id);
    const voters = new Map(rows.map((r) => [r.id, this.key.voter(r.id, userId, r.anonymous)]));
    const [options, votes] = await Promise.all([
      this.db.select().from(pollOptions).where(inArray(pollOptions.pollId, ids)).orderBy(asc(pollOptions.position)),
      this.db
        .select({ pollId: pollVotes.pollId, voter: pollVotes.voter, o: pollVotes.optionId })
        .from(pollVotes)
        .where(and(inArray(pollVotes.pollId, ids), inArray(pollVotes.voter, [...new Set(voters.values())]))),
    ]);
    return rows.map((row) =>
      this.present(
        userId,
        row,
        options.filter((o) => o.pollId === row.id),
        votes.filter((v) => v.pollId === row.id && v.voter === voters.get(row.id)).map((v) => v.o),
      ),
    );
  }

  /**
   * Votes (or, with allowVoteChange, changes the vote to) `optionIds`. Voting the same
   * choice again changes nothing.
   * @throws Invalid (count outside min/max, an option of another poll, duplicates),
   *   Conflict (closed; already voted on a poll without vote change or on a quiz; a
   *   concurrent vote of the same member), Forbidden (no VoteInPolls), NotFound.
   */
  async vote(userId: string, pollId: string, optionIds: string[]): Promise<PollView> {
    return this.cast(userId, pollId, optionIds);
  }

  /**
   * Takes the caller's vote back (allowVoteChange polls only; never on a quiz).
   * @throws Conflict (closed, or the poll does not allow it), NotFound, Forbidden.
   */
  async retract(userId: string, pollId: string): Promise<PollView> {
    return this.cast(userId, pollId, null);
  }

  /**
   * A vote (`optionIds`) or a retraction (null): the permission check on the poll's
   * cached scope (PollFacts), then one statement that checks and writes under the poll's
   * row lock and returns the poll as it is then (vote-sql.ts `castVote`). The rules run
   * in the order people meet them: choice count, foreign option, closed, then the
   * voter's own state (same vote, quiz final, no vote change).
   */
  private async cast(userId: string, pollId: string, optionIds: string[] | null): Promise<PollView> {
    let facts = await this.facts(pollId);
    await requireCarried(this.access, userId, facts.scopeId, Permission.View | Permission.VoteInPolls, `poll ${pollId}`);
    if (optionIds && new Set(optionIds).size !== optionIds.length) throw invalid('optionIds holds the same option twice');
    const run = (f: PollFacts) => castVote(this.db, pollId, this.key.voter(pollId, userId, f.anonymous), f.anonymous, optionIds).catch((err: unknown) => {
      throw carriedWriteError(err);
    });
    let out = await run(facts);
    if (out.status === 'stale') {
      // The poll changed its anonymity since it was cached (only raw SQL can, before any vote).
      this.pollFacts.delete(pollId);
      facts = await this.facts(pollId);
      out = await run(facts);
    }
    const poll = out.poll;
    if (out.status === 'missing' || out.status === 'stale' || !poll) {
      this.pollFacts.delete(pollId);
      throw notFound(`poll ${pollId} not found`);
    }
    switch (out.status) {
      case 'count':
        throw invalid(
          poll.minChoices === poll.maxChoices
            ? `choose exactly ${poll.maxChoices} option${poll.maxChoices > 1 ? 's' : ''}`
            : `choose between ${poll.minChoices} and ${poll.maxChoices} options`,
        );
      case 'stranger':
        throw invalid(`option ${out.detail} is not an option of this poll`);
      case 'closed':
        throw conflict('this poll is closed');
      case 'final':
        throw conflict('a quiz vote is final');
      case 'locked':
        throw conflict(optionIds ? 'you already voted, and this poll does not allow changing a vote' : 'this poll does not allow taking a vote back');
      case 'changed':
        this.live().touch('poll', pollId);
        break;
      case 'same':
        break;
    }
    return this.present(userId, poll, out.options, out.mine);
  }

  /**
   * What a vote needs before its statement: the poll's scope (for the permission check)
   * and whether it is anonymous (for the voter value). Neither changes after creation (no
   * procedure edits them; the triggers refuse once anyone voted), so they are kept in
   * process; `poll_cast_vote` checks the anonymity it is told against the row ('stale').
   */
  private async facts(pollId: string): Promise<PollFacts> {
    const hit = this.pollFacts.get(pollId);
    if (hit) return hit;
    const row = await this.row(this.db, pollId);
    const facts = { scopeId: row.scopeId, anonymous: row.anonymous };
    setBounded(this.pollFacts, pollId, facts, POLL_FACTS_MAX);
    return facts;
  }

  private readonly pollFacts = new Map<string, PollFacts>();

  /**
   * Closes the poll now: its author, or a holder of ManageMessages. Sends `poll.closed`
   * with the final tally. Closing a closed poll changes nothing.
   * @throws Forbidden, NotFound.
   */
  async close(userId: string, pollId: string): Promise<PollView> {
    const poll = await this.row(this.db, pollId);
    await requireCarried(this.access, userId, poll.scopeId, Permission.View, `poll ${poll.id}`);
    if (poll.createdBy !== userId && !(await this.access.allows(userId, poll.scopeId, Permission.ManageMessages))) {
      throw forbidden('only the author of the poll, or a holder of ManageMessages, may close it');
    }
    await this.closeOne(pollId, userId, false);
    return this.view(userId, await this.row(this.db, pollId));
  }

  /**
   * Closes one poll inside its own transaction, once: locks the scope row, then the poll
   * (skipping it when `skipLocked` and another transaction holds it), sets closed_at, and
   * appends `poll.closed` with the final tally. Publishes after commit.
   * @returns false when it was closed already (or skipped).
   */
  async closeOne(pollId: string, actorId: string | null, skipLocked: boolean): Promise<boolean> {
    const [head] = await this.db.select({ scopeId: polls.scopeId }).from(polls).where(eq(polls.id, pollId));
    if (!head) return false;
    const ev = await this.db.transaction(async (tx) => {
      await lockScope(tx, head.scopeId);
      const q = tx.select().from(polls).where(and(eq(polls.id, pollId), isNull(polls.closedAt)));
      const [row] = skipLocked ? await q.for('update', { skipLocked: true }) : await q.for('update');
      if (!row) return null;
      await tx.update(polls).set({ closedAt: new Date() }).where(eq(polls.id, pollId));
      const counts = (await this.options(tx, pollId)).map((o) => ({ optionId: o.id, count: o.voteCount }));
      const e = await appendEvent(tx, {
        scopeId: row.scopeId,
        type: 'poll.closed',
        actorId,
        messageId: row.messageId,
        payload: { pollId, messageId: row.messageId, voterCount: row.voterCount, counts },
      });
      return toScopeEvent(e, null);
    });
    if (!ev) return false;
    await this.hub.publish(ev);
    return true;
  }

  /**
   * Adds an option (allowAddOptions polls, until the first vote, up to 20 options); needs
   * VoteInPolls. Sends `poll.option_added`.
   * @throws Invalid (duplicate text), Conflict (votes already cast, closed, 20 options),
   *   Forbidden (not allowed on this poll), NotFound.
   */
  async addOption(userId: string, pollId: string, option: { text: string; emoji?: string | undefined }): Promise<PollView> {
    const poll = await this.row(this.db, pollId);
    await requireCarried(this.access, userId, poll.scopeId, Permission.View | Permission.VoteInPolls, `poll ${poll.id}`);
    if (!poll.allowAddOptions && poll.createdBy !== userId) throw forbidden('this poll does not take options from members');
    if (poll.quiz) throw invalid('a quiz has the options its author wrote');
    if (isClosed(poll)) throw conflict('this poll is closed');
    if (poll.voterCount > 0) throw conflict('options can be added only until the first vote');
    const existing = await this.options(this.db, pollId);
    if (existing.some((o) => o.text.trim().toLowerCase() === option.text.trim().toLowerCase())) throw invalid('this poll already has that option');
    if (existing.length >= limits.pollOptionsMax) throw conflict(`a poll holds at most ${limits.pollOptionsMax} options`);
    const ev = await this.write(async (tx) => {
      await lockScope(tx, poll.scopeId);
      const [{ top } = { top: null }] = await tx.select({ top: max(pollOptions.position) }).from(pollOptions).where(eq(pollOptions.pollId, pollId));
      const [row] = await tx
        .insert(pollOptions)
        .values({ pollId, position: (top ?? -1) + 1, text: option.text, emoji: option.emoji ?? null, addedBy: userId })
        .returning();
      const e = await appendEvent(tx, {
        scopeId: poll.scopeId,
        type: 'poll.option_added',
        actorId: userId,
        messageId: poll.messageId,
        payload: { pollId, messageId: poll.messageId, option: { id: row!.id, text: row!.text, emoji: row!.emoji, position: row!.position } },
      });
      return toScopeEvent(e, null);
    });
    await this.hub.publish(ev);
    return this.view(userId, await this.row(this.db, pollId));
  }

  /**
   * Who chose `optionId`, oldest vote first, paged (`limit` 1–100). Only on polls that
   * are not anonymous, and only when the caller may see the results.
   * @throws Forbidden (anonymous, or results hidden), Invalid (option, cursor), NotFound.
   */
  async voters(userId: string, pollId: string, optionId: string, cursor: string | undefined, limit: number): Promise<PollVoterPage> {
    const poll = await this.row(this.db, pollId);
    await requireCarried(this.access, userId, poll.scopeId, Permission.View, `poll ${poll.id}`);
    if (poll.anonymous) throw forbidden('this poll is anonymous: nobody, its author and owners included, can see who voted for what');
    const hasVoted = await this.hasVoted(userId, poll);
    if (!resultsVisible(poll.resultsVisibility, isClosed(poll), hasVoted)) throw forbidden(this.hiddenReason(poll));
    const options = await this.options(this.db, pollId);
    if (!options.some((o) => o.id === optionId)) throw invalid(`option ${optionId} is not an option of this poll`);
    let after: { at: Date; voter: string } | null = null;
    if (cursor) {
      const m = /^(\d{1,16})_([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
      if (!m) throw invalid('cursor is not one this server gave out; start again without it');
      after = { at: new Date(Number(m[1])), voter: m[2]! };
    }
    const rows = await this.db
      .select({ voter: pollVotes.voter, votedAt: pollVotes.votedAt, displayName: users.displayName })
      .from(pollVotes)
      .innerJoin(users, sql`${users.id}::text = ${pollVotes.voter}`)
      .where(
        and(
          eq(pollVotes.pollId, pollId),
          eq(pollVotes.optionId, optionId),
          after ? or(gt(pollVotes.votedAt, after.at), and(eq(pollVotes.votedAt, after.at), gt(pollVotes.voter, after.voter))) : undefined,
        ),
      )
      .orderBy(asc(pollVotes.votedAt), asc(pollVotes.voter))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ userId: r.voter, displayName: r.displayName, votedAt: r.votedAt })),
      nextCursor: rows.length > limit && last ? Buffer.from(`${last.votedAt!.getTime()}_${last.voter}`).toString('base64url') : null,
    };
  }

  // ------------------------------------------------------------ live results (LiveSource)

  /** The poll's tally in one statement, for the coalescer. */
  async snapshot(db: Tx, id: string): Promise<LiveSnapshot | null> {
    const result = (await db.execute(sql`
      select p.scope_id, p.message_id, p.tally_version, p.closed_at, p.closes_at, p.results_visibility, p.voter_count,
        coalesce((select json_agg(json_build_object('optionId', o.id, 'count', o.vote_count) order by o.position)
                  from poll_options o where o.poll_id = p.id), '[]'::json) as counts
      from polls p where p.id = ${id}`)) as unknown as {
      rows: { scope_id: string; message_id: string; tally_version: string; closed_at: string | null; closes_at: string | null; results_visibility: ResultsVisibility; voter_count: number; counts: OptionCount[] }[];
    };
    const r = result.rows[0];
    if (!r) return null;
    const closed = isClosed({ closedAt: r.closed_at ? new Date(r.closed_at) : null, closesAt: r.closes_at ? new Date(r.closes_at) : null });
    return {
      scopeId: r.scope_id,
      version: Number(r.tally_version),
      closed,
      type: 'poll.updated',
      personal: !sharedResults(r.results_visibility),
      payload: {
        pollId: id,
        messageId: r.message_id,
        resultsVisibility: r.results_visibility,
        voterCount: r.voter_count,
        // afterClose: counts never enter the log before the close; poll.closed carries them.
        counts: r.results_visibility === 'afterClose' ? null : r.counts,
      },
    };
  }

  async behind(db: Db, ms: number): Promise<string[]> {
    return resultsBehind(db, polls, ms);
  }

  /** Polls whose closesAt has passed and that are not closed yet, earliest first. */
  async due(): Promise<string[]> {
    return dueToClose(this.db, polls);
  }

  /**
   * Shapes poll events for one receiver: a `poll.updated` of an `afterVote` poll keeps its
   * counts only when the receiver voted in it or it has closed since.
   */
  async shapeFor(userId: string, events: ScopeEvent[]): Promise<ScopeEvent[]> {
    return shapeResultsFor(events, {
      target: (e) => (e.type === 'poll.updated' && e.counts !== null && e.resultsVisibility === 'afterVote' ? e.pollId : null),
      rows: (ids) => this.db.select().from(polls).where(inArray(polls.id, ids)),
      took: (row) => this.hasVoted(userId, row),
      hide: (e) => ({ ...e, counts: null }) as ScopeEvent,
    });
  }

  // ------------------------------------------------------------ helpers

  private async view(userId: string, row: PollRow): Promise<PollView> {
    const options = await this.options(this.db, row.id);
    const voter = this.key.voter(row.id, userId, row.anonymous);
    const mine = (await this.db.select({ o: pollVotes.optionId }).from(pollVotes).where(and(eq(pollVotes.pollId, row.id), eq(pollVotes.voter, voter)))).map(
      (r) => r.o,
    );
    return this.present(userId, row, options, mine);
  }

  /** The poll as `userId` may see it, from its row, its options and the caller's choices. */
  private present(userId: string, row: PollRow, options: OptionRow[], mine: string[]): PollView {
    const closed = isClosed(row);
    const voted = mine.length > 0;
    const visible = resultsVisible(row.resultsVisibility, closed, voted);
    const answers = row.quiz && (voted || row.createdBy === userId);
    const correct = options.filter((o) => o.correct).map((o) => o.id);
    return {
      id: row.id,
      scopeId: row.scopeId,
      messageId: row.messageId,
      createdBy: row.createdBy,
      question: row.question,
      options: options.map(
        (o): PollOptionView => ({
          id: o.id,
          position: o.position,
          text: o.text,
          emoji: o.emoji,
          count: visible ? o.voteCount : null,
          correct: answers ? o.correct : null,
        }),
      ),
      minChoices: row.minChoices,
      maxChoices: row.maxChoices,
      anonymous: row.anonymous,
      resultsVisibility: row.resultsVisibility,
      allowVoteChange: row.allowVoteChange,
      allowAddOptions: row.allowAddOptions,
      quiz: row.quiz,
      closesAt: row.closesAt,
      closedAt: row.closedAt ?? (closed ? row.closesAt : null),
      closed,
      voterCount: row.voterCount,
      resultsVisible: visible,
      myVote: voted ? options.filter((o) => mine.includes(o.id)).map((o) => o.id) : null,
      explanation: answers ? row.explanation : null,
      myVoteCorrect: row.quiz && voted ? sameSet(mine, correct) : null,
      createdAt: row.createdAt,
    };
  }

  private hiddenReason(poll: PollRow): string {
    return poll.resultsVisibility === 'afterClose' ? 'the results of this poll are hidden until it closes' : 'vote first: the results of this poll are shown to those who voted';
  }

  private async hasVoted(userId: string, poll: PollRow): Promise<boolean> {
    const voter = this.key.voter(poll.id, userId, poll.anonymous);
    const [r] = await this.db.select({ o: pollVotes.optionId }).from(pollVotes).where(and(eq(pollVotes.pollId, poll.id), eq(pollVotes.voter, voter))).limit(1);
    return r !== undefined;
  }

  private async row(db: Tx, pollId: string): Promise<PollRow> {
    const [row] = await db.select().from(polls).where(eq(polls.id, pollId)).limit(1);
    if (!row) throw notFound(`poll ${pollId} not found`);
    return row;
  }

  private async byMessage(messageId: string): Promise<PollRow> {
    const [row] = await this.db.select().from(polls).where(eq(polls.messageId, messageId)).limit(1);
    if (!row) throw notFound(`message ${messageId} carries no poll`);
    return row;
  }

  private options(db: Tx, pollId: string): Promise<OptionRow[]> {
    return db.select().from(pollOptions).where(eq(pollOptions.pollId, pollId)).orderBy(asc(pollOptions.position));
  }

  /** Runs a write transaction, mapping the triggers' refusals to domain errors (never a raw database error). */
  private async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction(fn);
    } catch (err) {
      throw carriedWriteError(err);
    }
  }
}
