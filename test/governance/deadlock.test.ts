import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { useServers, type User } from '../messages/setup.js';

const { ctx, user, room } = useServers();

const SENDERS = 5;
const LANES = 4;
const ROUNDS_PER_LANE = 25; // 100 removals in all
const ACTIONS = ['kick', 'ban', 'leave', 'remove'] as const;

/**
 * Issue "Deadlocks under load": members sending in a loop while others are kicked,
 * banned, removed or leave. Every removal must succeed (no deadlock, no
 * INTERNAL_SERVER_ERROR) and no send may die either.
 */
describe('moderation under load', () => {
  it(`${LANES * ROUNDS_PER_LANE} kicks, bans, leaves and removes against ${SENDERS} continuous senders: no error`, async () => {
    const owner = await user('owner');
    const senders: User[] = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await user(`sender${i}`, i % 2 ? 'b' : 'a'));
    const { community, room: r } = await room(owner, senders);
    const targets: User[] = [];
    for (let i = 0; i < LANES; i++) targets.push(await user(`target${i}`, i % 2 ? 'a' : 'b'));
    const current = new Set<string>();

    const errors: string[] = [];
    let stop = false;
    let sent = 0;
    const loops = senders.map(async (s, i) => {
      while (!stop) {
        // Mention the members being removed: their read marks and user streams are written by the send.
        const mentions = [...current].slice(0, 3).map((id) => `<@${id}>`).join(' ');
        try {
          await s.client.messages.send.mutate({ scopeId: i % 2 ? r.id : community.id, body: `load ${sent} ${mentions}` });
          sent++;
        } catch (err) {
          errors.push(`send: ${String((err as Error).message)}`);
        }
      }
    });

    const isMember = async (userId: string, scopeId: string) =>
      (await ctx.pool.query(`select 1 from memberships where user_id = $1 and scope_id = $2`, [userId, scopeId])).rowCount === 1;

    const lanes = targets.map(async (t, lane) => {
      for (let round = 0; round < ROUNDS_PER_LANE; round++) {
        const action = ACTIONS[(round + lane) % ACTIONS.length]!;
        const scopeId = round % 2 ? r.id : community.id;
        await t.client.members.join.mutate({ scopeId: community.id });
        await t.client.members.join.mutate({ scopeId: r.id });
        current.add(t.userId);
        // The target sends too, so its own read mark is written while it is removed.
        let targetStop = false;
        const own = (async () => {
          while (!targetStop) {
            const code = await codeOf(t.client.messages.send.mutate({ scopeId: r.id, body: 'still here?' }));
            if (code !== undefined && code !== 'FORBIDDEN' && code !== 'NOT_FOUND') errors.push(`target send: ${code}`);
          }
        })();
        try {
          if (action === 'kick') await owner.client.moderation.kick.mutate({ scopeId, userId: t.userId });
          if (action === 'ban') await owner.client.moderation.ban.mutate({ scopeId, userId: t.userId });
          if (action === 'leave') await t.client.members.leave.mutate({ scopeId });
          if (action === 'remove') await owner.client.members.remove.mutate({ scopeId, userId: t.userId });
          if (await isMember(t.userId, scopeId)) errors.push(`${action}: still a member`);
        } catch (err) {
          errors.push(`${action}: ${String((err as Error).message)}`);
        } finally {
          current.delete(t.userId);
          targetStop = true;
          await own;
        }
        if (action === 'ban' && !(await isMember(t.userId, scopeId))) {
          const code = await codeOf(owner.client.moderation.unban.mutate({ scopeId, userId: t.userId }));
          if (code) errors.push(`unban: ${code}`);
        }
      }
    });

    try {
      await Promise.all(lanes);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(errors).toEqual([]);
    expect(sent).toBeGreaterThan(LANES * ROUNDS_PER_LANE);
  }, 300_000);
});
