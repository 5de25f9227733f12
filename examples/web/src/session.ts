import { closeClient, createClient, isGuildhallError, type GuildhallClient, type User } from '@guildhall/sdk';

/**
 * The server this page talks to: `?server=` in the page's URL, else VITE_GUILDHALL_URL at
 * build time, else the embedded server's default address.
 */
export const SERVER_URL = (
  new URLSearchParams(location.search).get('server') ??
  (import.meta.env.VITE_GUILDHALL_URL as string | undefined) ??
  'http://127.0.0.1:3000'
).replace(/\/+$/, '');

const TOKEN_KEY = `guildhall:token:${SERVER_URL}`;

/** What the connection banner shows. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

/** A signed-in session: the typed client carrying the token, and the user. */
export interface Session {
  client: GuildhallClient;
  me: User;
  close(): void;
}

/**
 * Builds the signed-in client. Its WebSocket reconnects by itself after a network drop and
 * resumes every subscription after the last event id it received; `onState` tells the page.
 * Retries are quick (0.5 s doubling to 5 s) so a dropped Wi-Fi comes back within seconds.
 */
function connect(token: string, me: User, onState: (s: ConnectionState) => void): Session {
  let opened = false;
  const client = createClient({
    url: SERVER_URL,
    token,
    retryDelayMs: (attempt) => Math.min(500 * 2 ** attempt, 5_000),
    onWsStateChange: (state) => {
      if (state === 'pending') {
        opened = true;
        onState('live');
      } else if (state === 'connecting') onState(opened ? 'reconnecting' : 'connecting');
    },
  });
  return { client, me, close: () => closeClient(client) };
}

/** Signs in or up, keeps the token for the next visit, and returns the session. */
export async function signIn(
  mode: 'signIn' | 'signUp',
  input: { email: string; password: string; displayName: string },
  onState: (s: ConnectionState) => void,
): Promise<Session> {
  const anon = createClient({ url: SERVER_URL });
  const auth =
    mode === 'signUp'
      ? await anon.auth.signUp.mutate({ email: input.email, password: input.password, displayName: input.displayName || input.email.split('@')[0]! })
      : await anon.auth.signIn.mutate({ email: input.email, password: input.password });
  localStorage.setItem(TOKEN_KEY, auth.token);
  return connect(auth.token, auth.user, onState);
}

/** The session of a token kept from an earlier visit, or null (none, expired or revoked). */
export async function resume(onState: (s: ConnectionState) => void): Promise<Session | null> {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const me = await createClient({ url: SERVER_URL, token }).auth.me.query();
    return connect(token, me, onState);
  } catch (err) {
    if (isGuildhallError(err) && err.data.code === 'UNAUTHORIZED') localStorage.removeItem(TOKEN_KEY);
    return null;
  }
}

/** Revokes the session on the server and forgets the token. */
export async function signOut(session: Session): Promise<void> {
  localStorage.removeItem(TOKEN_KEY);
  await session.client.auth.signOut.mutate().catch(() => undefined);
  session.close();
}

/** A line a person can act on, for any failure of a call. */
export function describeError(err: unknown): string {
  if (isGuildhallError(err)) return err.message;
  if (err instanceof Error && /fetch|network/i.test(err.message)) {
    return `cannot reach ${SERVER_URL}: is the server running, and does its CORS_ORIGINS allow ${location.origin}?`;
  }
  return err instanceof Error ? err.message : String(err);
}
