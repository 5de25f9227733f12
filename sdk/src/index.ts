import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpLink,
  splitLink,
  wsLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import NodeWebSocket from 'ws';
import type { AppRouter } from '../../src/router.js';
import { expandEvent, isCompact } from '../../src/realtime/compact.js';

export type { AppRouter };
export type { UserEvent, UserEventType } from '../../src/realtime/user-events.js';
export type { TypingEvent } from '../../src/realtime/typing.js';
export type { PresenceEvent, PresenceStatus } from '../../src/realtime/presence.js';
export type { ScopeEvent, ScopeEventType, ScopeStreamEvent, ResyncRequired } from '../../src/messages/events.js';
export type {
  Message,
  MessagePage,
  MessageMentions,
  ReactionSummary,
  ReactionUserPage,
  ThreadPage,
  MessageVersion,
  Pin,
  SearchPage,
} from '../../src/messages/types.js';
export type { ReadState } from '../../src/readstate/types.js';
export type { Scope, ScopeKind, Visibility, ScopeSettings, TreeNode } from '../../src/scopes/types.js';
export type { Membership, MemberView, MemberPage } from '../../src/members/service.js';
export type { Role } from '../../src/roles/service.js';
export type { Overwrite } from '../../src/permissions/overwrites.js';
export type { EffectiveView } from '../../src/permissions/service.js';
export type { Explanation, Decision, WalkStep } from '../../src/permissions/compute.js';
export type { Invite, Redemption } from '../../src/invites/service.js';
export type { Ban } from '../../src/moderation/service.js';
export type { AuditEntry, AuditPage } from '../../src/audit/service.js';
export type { DirectConversation } from '../../src/dms/service.js';
export type {
  CalendarEvent,
  EventInstance,
  InstancePage,
  Rsvp,
  RsvpStatus,
  Attendees,
  Reminder,
  IcsExport,
  SeriesEdit,
  FailedSeries,
  SeriesSaved,
  OrphanedOverride,
} from '../../src/events/types.js';
export type { User, UserProfile, AuthResult } from '../../src/auth/types.js';
export type { Attachment, AttachmentUpdate, AttachmentVariant, AttachmentStatus, AttachmentPurpose, UploadTicket, DownloadUrl } from '../../src/media/types.js';
export type { PollScopeEvent, ResultsVisibility, OptionCount, QuestionAggregate } from '../../src/polls/events.js';
export type { Answer, QuestionType } from '../../src/surveys/questions.js';
/** Input types of every procedure: `RouterInputs['messages']['send']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Output types of every procedure: `RouterOutputs['messages']['list']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;
/** A poll as the caller sees it (polls.get). */
export type PollView = RouterOutputs['polls']['get'];
export type PollOptionView = PollView['options'][number];
export type PollVoterPage = RouterOutputs['polls']['voters'];
/** A survey with its questions (surveys.get). */
export type SurveyView = RouterOutputs['surveys']['get'];
export type SurveyResults = RouterOutputs['surveys']['results'];
export type SurveyExport = RouterOutputs['surveys']['export'];
export type TextPage = RouterOutputs['surveys']['textAnswers'];
/** A question as its author writes it (surveys.create). */
export type NewQuestion = RouterInputs['surveys']['create']['questions'][number];
/** One answer of surveys.respond. */
export type AnswerInput = RouterInputs['surveys']['respond']['answers'][number];
/** The typed client `createClient` returns. */
export type GuildhallClient = TRPCClient<AppRouter>;
export { TRPCClientError } from '@trpc/client';
export { isGuildhallError, errorCodeOf, type GuildhallError, type GuildhallErrorData, type FlattenedZodError, type AppErrorCode } from './errors.js';

/** A bearer token, or a function that returns the current one (null when signed out). */
export type TokenSource = string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>);

export interface CreateClientOptions {
  /** The server's base URL, e.g. `http://localhost:3000`. tRPC is at `<url>/trpc`. */
  url: string;
  /** Bearer token (string or function), sent as `Authorization` on HTTP and as connectionParams on WebSocket. */
  token?: TokenSource;
  /** WebSocket URL; by default `url` with ws(s):// and `/trpc`. */
  wsUrl?: string;
  /** Delay before the n-th reconnect attempt (ms); by default 0, then doubling from 2 s up to 30 s. */
  retryDelayMs?: (attempt: number) => number;
  /** Called when the WebSocket opens, closes or reconnects. */
  onWsStateChange?: (state: 'connecting' | 'pending' | 'idle') => void;
  /**
   * Batch HTTP calls (default true): calls made in the same tick go out as one request,
   * at the cost of a timer (about 1 ms on Node) before each request leaves. `false` sends
   * each call at once as its own request: for a caller whose calls run one after the
   * other (the media pipeline handler), batching never joins two and only adds the delay.
   */
  batch?: boolean;
}

const wsClients = new WeakMap<object, { close(): void }>();

/**
 * How long the WebSocket stays open once nothing is left on it (ms): the lazy client
 * closes it when its inactivity timer finds no subscription or call. The timer re-arms
 * itself every `closeMs` while one is open, so `closeMs: 0` fired it every millisecond for
 * as long as a subscription lasted: 1,000 callbacks a second per client, about 0.3 of a
 * core for 1,000 idle clients in one process (test/sdk-timers.test.ts).
 */
const WS_IDLE_CLOSE_MS = 1_000;

/**
 * The WebSocket's transformer: superjson, except for conversation events in their compact
 * form (src/realtime/compact.ts), which are plain JSON and pass through to `compactLink`.
 */
const wsTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (data: unknown) => (isCompact(data) ? data : superjson.deserialize(data as never, { inPlace: true })),
};

/**
 * The HTTP link's transformer: superjson, reading each answer in place. The link owns the
 * JSON it just parsed, so superjson's deep copy of it (before its meta is applied) buys
 * nothing; on a page of 2,500 calendar instances the copy took 16–29 ms, in place 0.2 ms.
 */
const httpTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (data: unknown) => superjson.deserialize(data as never, { inPlace: true }),
};

/**
 * Restores `messages.onEvent` events sent in the compact form (the socket asks for it in
 * its connectionParams): the scope from the subscription's input, the seq from the
 * tracked id, dates and defaults from the form's rules. What `onData` receives is the
 * same `{ id, data: ScopeStreamEvent }` as over superjson.
 */
const compactLink: TRPCLink<AppRouter> = () => ({ op, next }) =>
  observable((observer) =>
    next(op).subscribe({
      next(value) {
        const result = value.result as { type?: string; id?: string; data?: unknown };
        if (op.path === 'messages.onEvent' && result.type === 'data' && result.id !== undefined && isCompact(result.data)) {
          const { scopeId } = op.input as { scopeId: string };
          const data = { id: result.id, data: expandEvent(result.data, scopeId, Number(result.id)) };
          observer.next({ ...value, result: { ...result, data } as typeof value.result });
        } else observer.next(value);
      },
      error: (err) => observer.error(err),
      complete: () => observer.complete(),
    }),
  );

/**
 * Creates the typed client: queries and mutations over HTTP (batched), subscriptions
 * over one WebSocket (opened on the first subscription, reconnecting by itself and
 * resuming each subscription from its last event id), superjson on both.
 * On Node the WebSocket comes from `ws`; in browsers the browser's own is used.
 *
 * @example
 * const client = createClient({ url: 'http://localhost:3000', token });
 * const msg = await client.messages.send.mutate({ scopeId, body: 'hi' });
 * client.messages.onEvent.subscribe({ scopeId }, { onData: ({ data }) => console.log(data) });
 */
export function createClient(opts: CreateClientOptions): GuildhallClient {
  const base = opts.url.replace(/\/+$/, '');
  const wsUrl = opts.wsUrl ?? `${base.replace(/^http/, 'ws')}/trpc`;
  const getToken = async () => (typeof opts.token === 'function' ? await opts.token() : opts.token) ?? null;
  const WebSocketImpl = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? (NodeWebSocket as unknown as typeof WebSocket);
  const wsClient = createWSClient({
    url: wsUrl,
    WebSocket: WebSocketImpl,
    lazy: { enabled: true, closeMs: WS_IDLE_CLOSE_MS },
    ...(opts.retryDelayMs ? { retryDelayMs: opts.retryDelayMs } : {}),
    keepAlive: { enabled: true, intervalMs: 20_000, pongTimeoutMs: 5_000 },
    connectionParams: async () => {
      const token = await getToken();
      // `wire: compact`: conversation events without superjson meta, nulls and defaults (compactLink restores them).
      return token ? { token, wire: 'compact' } : { wire: 'compact' };
    },
    onOpen: () => opts.onWsStateChange?.('pending'),
    onClose: () => opts.onWsStateChange?.('connecting'),
  });
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: [compactLink, wsLink({ client: wsClient, transformer: wsTransformer })],
        false: (opts.batch === false ? httpLink : httpBatchLink)({
          url: `${base}/trpc`,
          transformer: httpTransformer,
          headers: async () => {
            const token = await getToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      }),
    ],
  });
  wsClients.set(client, wsClient);
  return client;
}

/** Closes the client's WebSocket (ending its subscriptions); HTTP calls keep working. */
export function closeClient(client: GuildhallClient): void {
  wsClients.get(client)?.close();
}

export {
  Permission,
  ALL_PERMISSIONS,
  PERMISSION_NAMES,
  has,
  toNames,
  fromNames,
  serializePermissions,
  parsePermissions,
  OWNER_ONLY_ACTIONS,
  type OwnerOnlyAction,
  type PermissionName,
} from '../../src/permissions/flags.js';
