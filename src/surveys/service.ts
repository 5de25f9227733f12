import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/client.js';
import { surveyQuestions, surveyResponses, surveys, users } from '../db/schema/index.js';
import { limits } from '../config.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { appendEvent, lockScope, type Tx } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import type { MessageService } from '../messages/service.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import { requireCarried } from '../polls/carried-access.js';
import type { ScopeHub } from '../realtime/hub.js';
import type { ResultsVisibility } from '../polls/events.js';
import { publishEvents, type LiveResults, type LiveSnapshot, type LiveSource } from '../polls/live.js';
import { carriedWriteError, dueToClose, resultsBehind } from '../polls/sql.js';
import { shapeResultsFor } from '../polls/shape.js';
import { isClosed, resultsVisible, sharedResults } from '../polls/visibility.js';
import type { VoterKey } from '../polls/voter-key.js';
import { aggregate, TEXT_TYPES } from './aggregate.js';
import { buildQuestions, validateAnswers, type Answer, type AnswerInput, type NewQuestion, type Question, type QuestionConfig, type QuestionType } from './questions.js';
import type { SurveyExport, SurveyResults, SurveyView, TextPage } from './schemas.js';

type SurveyRow = typeof surveys.$inferSelect;

/** What `surveys.create` takes (bounded by the router's zod schema). */
export interface CreateSurvey {
  scopeId: string;
  title: string;
  description?: string | undefined;
  questions: NewQuestion[];
  anonymous?: boolean | undefined;
  resultsVisibility?: ResultsVisibility | undefined;
  closesAt?: Date | undefined;
  allowEdit?: boolean | undefined;
  threadRootId?: string | undefined;
  nonce?: string | undefined;
}

/** Text answers per page in surveys.results. */
const TEXT_PAGE = 20;

/**
 * Surveys carried by messages: up to 50 questions, one response per member (an HMAC of
 * the member on anonymous surveys, as polls), results with aggregates, CSV and JSON
 * export, live `survey.updated` events through the polls' coalescer. Visibility and
 * anonymity follow the same rules as polls (src/polls/visibility.ts).
 */
export class SurveyService implements LiveSource {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly hub: ScopeHub,
    private readonly messages: MessageService,
    private readonly key: VoterKey,
    private readonly live: () => LiveResults,
  ) {}

  /**
   * Posts a message carrying a survey (the body is its title). Needs SendMessages and CreatePolls.
   * @throws Invalid (naming the question), Forbidden, NotFound, plus MessageService.send's errors.
   */
  async create(userId: string, input: CreateSurvey): Promise<SurveyView> {
    await this.access.require(userId, input.scopeId, Permission.View | Permission.SendMessages | Permission.CreatePolls);
    if (input.closesAt) {
      const ahead = input.closesAt.getTime() - Date.now();
      if (ahead <= 0) throw invalid('closesAt must be in the future');
      if (ahead > limits.pollClosesAtMaxMs) throw invalid('closesAt may be at most one year ahead');
    }
    const questions = buildQuestions(input.questions);
    let surveyId: string | null = null;
    const { message, events } = await this.messages.send(
      userId,
      { scopeId: input.scopeId, body: input.title, nonce: input.nonce, threadRootId: input.threadRootId },
      async (tx, msg) => {
        const [row] = await tx
          .insert(surveys)
          .values({
            scopeId: input.scopeId,
            messageId: msg.id,
            createdBy: userId,
            title: input.title,
            description: input.description ?? '',
            anonymous: input.anonymous ?? false,
            resultsVisibility: input.resultsVisibility ?? 'afterVote',
            closesAt: input.closesAt ?? null,
            allowEdit: input.allowEdit ?? false,
          })
          .returning();
        surveyId = row!.id;
        await tx.insert(surveyQuestions).values(questions.map((q) => ({ ...q, surveyId: row!.id })));
        const ev = await appendEvent(tx, {
          scopeId: input.scopeId,
          type: 'survey.created',
          actorId: userId,
          messageId: msg.id,
          payload: { surveyId: row!.id, messageId: msg.id, title: input.title },
        });
        return [toScopeEvent(ev, null)];
      },
    );
    await publishEvents(this.hub, events);
    if (!surveyId) {
      const [existing] = await this.db.select({ id: surveys.id }).from(surveys).where(eq(surveys.messageId, message.id));
      if (!existing) throw conflict('this nonce was already used for a message that carries no survey; use a new nonce');
      surveyId = existing.id;
    }
    return this.view(userId, await this.row(surveyId));
  }

  /** One survey with its questions. @throws NotFound, Forbidden (no View). */
  async get(userId: string, ref: { surveyId?: string | undefined; messageId?: string | undefined }): Promise<SurveyView> {
    const row = ref.surveyId ? await this.row(ref.surveyId) : await this.byMessage(ref.messageId!);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `survey ${row.id}`);
    return this.view(userId, row);
  }

  /**
   * Records the caller's response (or replaces it when the survey allows edits). Needs
   * VoteInPolls. @throws Invalid naming the question; Conflict (closed, already responded
   * without allowEdit); Forbidden; NotFound.
   */
  async respond(userId: string, surveyId: string, answers: AnswerInput[]): Promise<SurveyView> {
    const row = await this.row(surveyId);
    await requireCarried(this.access, userId, row.scopeId, Permission.View | Permission.VoteInPolls, `survey ${row.id}`);
    if (isClosed(row)) throw conflict('this survey is closed');
    const normalized = validateAnswers(await this.questions(this.db, surveyId), answers);
    const respondent = this.key.voter(surveyId, userId, row.anonymous);
    const now = row.anonymous ? null : new Date();
    try {
      await this.db.transaction(async (tx) => {
        await tx.select({ id: surveys.id }).from(surveys).where(eq(surveys.id, surveyId)).for('update');
        const [existing] = await tx
          .select({ r: surveyResponses.respondent })
          .from(surveyResponses)
          .where(and(eq(surveyResponses.surveyId, surveyId), eq(surveyResponses.respondent, respondent)));
        if (existing) {
          if (!row.allowEdit) throw conflict('you already responded, and this survey does not allow changing a response');
          await tx
            .update(surveyResponses)
            .set({ answers: normalized, updatedAt: now })
            .where(and(eq(surveyResponses.surveyId, surveyId), eq(surveyResponses.respondent, respondent)));
        } else {
          await tx.insert(surveyResponses).values({ surveyId, respondent, answers: normalized, submittedAt: now });
        }
      });
    } catch (err) {
      throw carriedWriteError(err);
    }
    this.live().touch('survey', surveyId);
    return this.view(userId, await this.row(surveyId));
  }

  /** The caller's response, or null. @throws NotFound, Forbidden. */
  async myResponse(userId: string, surveyId: string): Promise<{ answers: Record<string, Answer>; submittedAt: Date | null; updatedAt: Date | null } | null> {
    const row = await this.row(surveyId);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `survey ${row.id}`);
    const [r] = await this.db
      .select()
      .from(surveyResponses)
      .where(and(eq(surveyResponses.surveyId, surveyId), eq(surveyResponses.respondent, this.key.voter(surveyId, userId, row.anonymous))));
    return r ? { answers: r.answers as Record<string, Answer>, submittedAt: r.submittedAt, updatedAt: r.updatedAt } : null;
  }

  /**
   * Results per question (aggregates; the first page of text answers), when the caller
   * may see them. Text answers never carry who wrote them.
   * @throws Forbidden (results hidden), NotFound.
   */
  async results(userId: string, surveyId: string): Promise<SurveyResults> {
    const row = await this.visibleResults(userId, surveyId);
    const questions = await this.questions(this.db, surveyId);
    const answers = await this.answers(this.db, surveyId);
    const aggregates = new Map(aggregate(questions, answers).map((a) => [a.questionId, a]));
    const out: SurveyResults['questions'] = [];
    for (const q of questions) {
      if (TEXT_TYPES.has(q.type)) {
        const count = answers.filter((a) => a[q.id] !== undefined).length;
        out.push({ questionId: q.id, type: q.type, count, texts: await this.textPage(surveyId, q.id, undefined, TEXT_PAGE) });
      } else {
        out.push({ ...aggregates.get(q.id)!, type: q.type });
      }
    }
    return { surveyId, responseCount: row.responseCount, questions: out };
  }

  /** Text answers to one question, paged (`limit` 1–100), in no order that reveals who or when. @throws Forbidden, Invalid, NotFound. */
  async textAnswers(userId: string, surveyId: string, questionId: string, cursor: string | undefined, limit: number): Promise<TextPage> {
    await this.visibleResults(userId, surveyId);
    const q = (await this.questions(this.db, surveyId)).find((x) => x.id === questionId);
    if (!q) throw invalid(`question ${questionId} is not a question of this survey`);
    if (!TEXT_TYPES.has(q.type)) throw invalid('textAnswers is for shortText and longText questions; surveys.results has the others');
    return this.textPage(surveyId, questionId, cursor, limit);
  }

  /**
   * Every response as CSV (csv-stringify, RFC 4180) or JSON, one row per response, for
   * the author and holders of ManageMessages. Anonymous surveys hold no identity and no
   * time: rows come in the order of their keyed hash.
   * @throws Forbidden, NotFound.
   */
  async export(userId: string, surveyId: string, format: 'csv' | 'json'): Promise<SurveyExport> {
    const row = await this.row(surveyId);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `survey ${row.id}`);
    if (row.createdBy !== userId && !(await this.access.allows(userId, row.scopeId, Permission.ManageMessages))) {
      throw forbidden('only the author of the survey, or a holder of ManageMessages, may export its responses');
    }
    const questions = await this.questions(this.db, surveyId);
    const rows = await this.db
      .select({ respondent: surveyResponses.respondent, answers: surveyResponses.answers, submittedAt: surveyResponses.submittedAt, updatedAt: surveyResponses.updatedAt })
      .from(surveyResponses)
      .where(eq(surveyResponses.surveyId, surveyId))
      .orderBy(asc(surveyResponses.respondent))
      .limit(limits.surveyResponsesReadMax);
    const names = new Map<string, string>();
    if (!row.anonymous && rows.length > 0) {
      const found = await this.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, rows.map((r) => r.respondent)));
      for (const u of found) names.set(u.id, u.name);
    }
    const cell = (q: Question, a: Answer | undefined): string | number | null => {
      if (!a) return null;
      if ('optionIds' in a) {
        const texts = a.optionIds.map((id) => q.config.options?.find((o) => o.id === id)?.text ?? id);
        if (a.other !== undefined) texts.push(`Other: ${a.other}`);
        return texts.join('; ');
      }
      if ('value' in a) return a.value;
      if ('text' in a) return a.text;
      return a.date;
    };
    const base = `survey-${surveyId}`;
    if (format === 'json') {
      const items = rows.map((r) => ({
        ...(row.anonymous ? {} : { userId: r.respondent, displayName: names.get(r.respondent) ?? '', submittedAt: r.submittedAt, updatedAt: r.updatedAt }),
        answers: Object.fromEntries(questions.map((q) => [q.id, (r.answers as Record<string, Answer>)[q.id] ?? null])),
      }));
      const content = JSON.stringify({ survey: { id: row.id, title: row.title, anonymous: row.anonymous, questions: questions.map((q) => ({ id: q.id, type: q.type, prompt: q.prompt, options: q.config.options })) }, responses: items }, null, 2);
      return { filename: `${base}.json`, contentType: 'application/json', content };
    }
    const header = [...(row.anonymous ? [] : ['userId', 'displayName', 'submittedAt']), ...questions.map((q) => q.prompt)];
    const records = rows.map((r) => [
      ...(row.anonymous ? [] : [r.respondent, names.get(r.respondent) ?? '', r.submittedAt?.toISOString() ?? '']),
      ...questions.map((q) => cell(q, (r.answers as Record<string, Answer>)[q.id])),
    ]);
    return { filename: `${base}.csv`, contentType: 'text/csv; charset=utf-8', content: stringify([header, ...records], { record_delimiter: '\r\n' }) };
  }

  /** Closes the survey now (its author, or ManageMessages); emits `survey.closed`. @throws Forbidden, NotFound. */
  async close(userId: string, surveyId: string): Promise<SurveyView> {
    const row = await this.row(surveyId);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `survey ${row.id}`);
    if (row.createdBy !== userId && !(await this.access.allows(userId, row.scopeId, Permission.ManageMessages))) {
      throw forbidden('only the author of the survey, or a holder of ManageMessages, may close it');
    }
    await this.closeOne(surveyId, userId, false);
    return this.view(userId, await this.row(surveyId));
  }

  /** Closes one survey once (scope lock, then the survey row; see PollService.closeOne). */
  async closeOne(surveyId: string, actorId: string | null, skipLocked: boolean): Promise<boolean> {
    const [head] = await this.db.select({ scopeId: surveys.scopeId }).from(surveys).where(eq(surveys.id, surveyId));
    if (!head) return false;
    const ev = await this.db.transaction(async (tx) => {
      await lockScope(tx, head.scopeId);
      const q = tx.select().from(surveys).where(and(eq(surveys.id, surveyId), isNull(surveys.closedAt)));
      const [row] = skipLocked ? await q.for('update', { skipLocked: true }) : await q.for('update');
      if (!row) return null;
      await tx.update(surveys).set({ closedAt: new Date() }).where(eq(surveys.id, surveyId));
      const aggregates = aggregate(await this.questions(tx, surveyId), await this.answers(tx, surveyId));
      const e = await appendEvent(tx, {
        scopeId: row.scopeId,
        type: 'survey.closed',
        actorId,
        messageId: row.messageId,
        payload: { surveyId, messageId: row.messageId, responseCount: row.responseCount, aggregates },
      });
      return toScopeEvent(e, null);
    });
    if (!ev) return false;
    await this.hub.publish(ev);
    return true;
  }

  // ------------------------------------------------------------ live results (LiveSource)

  async snapshot(db: Tx, id: string): Promise<LiveSnapshot | null> {
    const result = (await db.execute(sql`
      select s.scope_id, s.message_id, s.tally_version, s.closed_at, s.closes_at, s.results_visibility, s.response_count,
        coalesce((select json_agg(r.answers) from survey_responses r where r.survey_id = s.id), '[]'::json) as answers,
        coalesce((select json_agg(json_build_object('id', q.id, 'position', q.position, 'type', q.type, 'prompt', q.prompt, 'required', q.required, 'config', q.config) order by q.position)
                  from survey_questions q where q.survey_id = s.id), '[]'::json) as questions
      from surveys s where s.id = ${id}`)) as unknown as {
      rows: {
        scope_id: string;
        message_id: string;
        tally_version: string;
        closed_at: string | null;
        closes_at: string | null;
        results_visibility: ResultsVisibility;
        response_count: number;
        answers: Record<string, Answer>[];
        questions: Question[];
      }[];
    };
    const r = result.rows[0];
    if (!r) return null;
    const closed = isClosed({ closedAt: r.closed_at ? new Date(r.closed_at) : null, closesAt: r.closes_at ? new Date(r.closes_at) : null });
    return {
      scopeId: r.scope_id,
      version: Number(r.tally_version),
      closed,
      type: 'survey.updated',
      personal: !sharedResults(r.results_visibility),
      payload: {
        surveyId: id,
        messageId: r.message_id,
        resultsVisibility: r.results_visibility,
        responseCount: r.response_count,
        aggregates: r.results_visibility === 'afterClose' ? null : aggregate(r.questions, r.answers),
      },
    };
  }

  async behind(db: Db, ms: number): Promise<string[]> {
    return resultsBehind(db, surveys, ms);
  }

  async due(): Promise<string[]> {
    return dueToClose(this.db, surveys);
  }

  /** Shapes `survey.updated` of `afterVote` surveys for one receiver (aggregates only once responded, or closed). */
  async shapeFor(userId: string, events: ScopeEvent[]): Promise<ScopeEvent[]> {
    return shapeResultsFor(events, {
      target: (e) => (e.type === 'survey.updated' && e.aggregates !== null && e.resultsVisibility === 'afterVote' ? e.surveyId : null),
      rows: (ids) => this.db.select().from(surveys).where(inArray(surveys.id, ids)),
      took: (row) => this.hasResponded(userId, row),
      hide: (e) => ({ ...e, aggregates: null }) as ScopeEvent,
    });
  }

  // ------------------------------------------------------------ helpers

  private async visibleResults(userId: string, surveyId: string): Promise<SurveyRow> {
    const row = await this.row(surveyId);
    await requireCarried(this.access, userId, row.scopeId, Permission.View, `survey ${row.id}`);
    if (!resultsVisible(row.resultsVisibility, isClosed(row), await this.hasResponded(userId, row))) {
      throw forbidden(row.resultsVisibility === 'afterClose' ? 'the results of this survey are hidden until it closes' : 'respond first: the results are shown to those who responded');
    }
    return row;
  }

  private async textPage(surveyId: string, questionId: string, cursor: string | undefined, limit: number): Promise<TextPage> {
    let after: string | null = null;
    if (cursor) {
      after = Buffer.from(cursor, 'base64url').toString();
      if (after.length === 0 || after.length > 100) throw invalid('cursor is not one this server gave out; start again without it');
    }
    const rows = await this.db
      .select({ respondent: surveyResponses.respondent, text: sql<string>`${surveyResponses.answers} -> ${questionId} ->> 'text'` })
      .from(surveyResponses)
      .where(and(eq(surveyResponses.surveyId, surveyId), sql`${surveyResponses.answers} ? ${questionId}`, after ? sql`${surveyResponses.respondent} > ${after}` : undefined))
      .orderBy(asc(surveyResponses.respondent))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map((r) => r.text), nextCursor: rows.length > limit && last ? Buffer.from(last.respondent).toString('base64url') : null };
  }

  private async view(userId: string, row: SurveyRow): Promise<SurveyView> {
    const questions = await this.questions(this.db, row.id);
    const responded = await this.hasResponded(userId, row);
    const closed = isClosed(row);
    return {
      id: row.id,
      scopeId: row.scopeId,
      messageId: row.messageId,
      createdBy: row.createdBy,
      title: row.title,
      description: row.description,
      questions: questions.map((q) => ({
        id: q.id,
        position: q.position,
        type: q.type,
        prompt: q.prompt,
        required: q.required,
        ...(q.config.options ? { options: q.config.options, allowOther: q.config.allowOther ?? false } : {}),
        ...(q.type === 'scale' || q.type === 'rating' ? { min: 1, max: q.config.max ?? 5 } : {}),
        ...(q.type === 'number' ? { ...(q.config.min !== undefined ? { min: q.config.min } : {}), ...(q.config.max !== undefined ? { max: q.config.max } : {}), integer: q.config.integer ?? false } : {}),
        ...(q.config.minLabel ? { minLabel: q.config.minLabel } : {}),
        ...(q.config.maxLabel ? { maxLabel: q.config.maxLabel } : {}),
      })),
      anonymous: row.anonymous,
      resultsVisibility: row.resultsVisibility,
      allowEdit: row.allowEdit,
      closesAt: row.closesAt,
      closedAt: row.closedAt ?? (closed ? row.closesAt : null),
      closed,
      responseCount: row.responseCount,
      responded,
      resultsVisible: resultsVisible(row.resultsVisibility, closed, responded),
      createdAt: row.createdAt,
    };
  }

  private async hasResponded(userId: string, row: SurveyRow): Promise<boolean> {
    const [r] = await this.db
      .select({ r: surveyResponses.respondent })
      .from(surveyResponses)
      .where(and(eq(surveyResponses.surveyId, row.id), eq(surveyResponses.respondent, this.key.voter(row.id, userId, row.anonymous))))
      .limit(1);
    return r !== undefined;
  }

  private async questions(db: Tx, surveyId: string): Promise<Question[]> {
    const rows = await db.select().from(surveyQuestions).where(eq(surveyQuestions.surveyId, surveyId)).orderBy(asc(surveyQuestions.position));
    return rows.map((r) => ({ id: r.id, position: r.position, type: r.type as QuestionType, prompt: r.prompt, required: r.required, config: r.config as QuestionConfig }));
  }

  private async answers(db: Tx, surveyId: string): Promise<Record<string, Answer>[]> {
    const rows = await db.select({ a: surveyResponses.answers }).from(surveyResponses).where(eq(surveyResponses.surveyId, surveyId)).limit(limits.surveyResponsesReadMax);
    return rows.map((r) => r.a as Record<string, Answer>);
  }

  private async row(surveyId: string): Promise<SurveyRow> {
    const [row] = await this.db.select().from(surveys).where(eq(surveys.id, surveyId)).limit(1);
    if (!row) throw notFound(`survey ${surveyId} not found`);
    return row;
  }

  private async byMessage(messageId: string): Promise<SurveyRow> {
    const [row] = await this.db.select().from(surveys).where(eq(surveys.messageId, messageId)).limit(1);
    if (!row) throw notFound(`message ${messageId} carries no survey`);
    return row;
  }
}
