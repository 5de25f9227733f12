/**
 * The README's "Using the API" snippet, runnable inside a clone:
 *
 *   npm start                     # terminal 1
 *   npx tsx examples/hello.ts     # terminal 2 (PORT as for npm start, or GUILDHALL_URL)
 *
 * It imports `@guildhall/sdk` as an app would: in this repository tsconfig.json's `paths`
 * maps that name to `sdk/src/index.ts`, and tsx and tsc follow it, so nothing is built or
 * installed. Signs up a new user, creates a community, sends one message, reads it back
 * from the conversation's stream (replayed from `lastEventId: '0'`), and exits.
 */
import { randomUUID } from 'node:crypto';
import { closeClient, createClient } from '@guildhall/sdk';

const url = process.env.GUILDHALL_URL ?? `http://127.0.0.1:${/^\d{1,5}$/.test(process.env.PORT ?? '') ? process.env.PORT : '3000'}`;
const email = `hello-${randomUUID()}@example.com`;

const { token } = await createClient({ url }).auth.signUp.mutate({ email, password: 'correct horse battery', displayName: 'Hello' });
const client = createClient({ url, token });
const community = await client.scopes.create.mutate({ kind: 'community', name: 'Guild' });
await client.messages.send.mutate({ scopeId: community.id, body: 'hello', nonce: randomUUID() });
await new Promise<void>((resolve, reject) => {
  const sub = client.messages.onEvent.subscribe(
    { scopeId: community.id, lastEventId: '0' },
    {
      onData: ({ data }) => {
        if (data.type !== 'message.created') return;
        console.log(`#${data.seq} ${data.type}: ${data.message.body}`);
        sub.unsubscribe();
        resolve();
      },
      onError: reject,
    },
  );
});
closeClient(client);
