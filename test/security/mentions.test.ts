import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserEvent } from '../../sdk/src/index.js';
import { collect } from '../helpers/subscribe.js';
import { governanceEnv } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

describe('mentions notify only members who can view the message', () => {
  it('a <@id> of a non-member of a private room, or of a stranger, reaches nobody; of a member, it does', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'M' });
    const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'staff', visibility: 'private' });
    const outsider = await env.user('outsider'); // a member of the community, not of the room
    await outsider.http.members.join.mutate({ scopeId: c.id });
    const stranger = await env.user('stranger');
    const streams = {
      outsider: collect<UserEvent>((h) => outsider.ws.me.onEvent.subscribe({}, h)),
      stranger: collect<UserEvent>((h) => stranger.ws.me.onEvent.subscribe({}, h)),
    };
    await Promise.all(Object.values(streams).map((s) => s.started));
    const hidden = await owner.http.messages.send.mutate({ scopeId: room.id, body: `secret for <@${outsider.userId}> and <@${stranger.userId}>` });
    // Then mentions they can see: in the community (the stranger is still no member: nothing).
    const seen = await owner.http.messages.send.mutate({ scopeId: c.id, body: `hello <@${outsider.userId}> <@${stranger.userId}>` });
    const mentionsSoFar = async (n: number) => {
      const s = streams.outsider;
      while (s.items.filter((e) => e.type === 'mention').length < n) await s.until(s.items.length + 1);
      return s.items.filter((e) => e.type === 'mention');
    };
    const [first] = await mentionsSoFar(1);
    expect(first).toMatchObject({ type: 'mention', scopeId: c.id, messageId: seen.id });
    // An edit that adds a non-member mention does not notify them either.
    await owner.http.messages.edit.mutate({ scopeId: room.id, messageId: hidden.id, body: `again <@${outsider.userId}>` });
    await owner.http.messages.send.mutate({ scopeId: c.id, body: `last <@${outsider.userId}>` });
    const mentions = await mentionsSoFar(2);
    expect(mentions.map((e) => e.type === 'mention' && e.scopeId)).toEqual([c.id, c.id]);
    const [state] = (await outsider.http.readState.list.query()).filter((s) => s.scopeId === room.id);
    expect(state?.mentionCount ?? 0).toBe(0);
    expect(streams.stranger.items.filter((e) => e.type === 'mention')).toEqual([]);
    for (const s of Object.values(streams)) s.stop();
  });

  it('the mention trigger (drizzle/0013), written to with raw SQL, notifies members of the scope only', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'T' });
    const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'r', visibility: 'private' });
    const inRoom = await env.user('in');
    await inRoom.http.members.join.mutate({ scopeId: c.id });
    await owner.http.members.add.mutate({ scopeId: room.id, userId: inRoom.userId });
    const out = await env.user('out');
    await out.http.members.join.mutate({ scopeId: c.id });
    const msg = await owner.http.messages.send.mutate({ scopeId: room.id, body: 'plain' });
    const db = env.a.services.database.db;
    await db.execute(sql`insert into message_mentions (message_id, scope_id, kind, target_id) values
      (${msg.id}, ${room.id}, 'user', ${inRoom.userId}), (${msg.id}, ${room.id}, 'user', ${out.userId})`);
    const { rows } = (await db.execute(sql`select user_id from user_events where type = 'mention' and payload->>'messageId' = ${msg.id}`)) as unknown as { rows: { user_id: string }[] };
    expect(rows.map((r) => r.user_id)).toEqual([inRoom.userId]);
  });
});
