import type { MessageMentions } from './types.js';

/*
 * Mention syntax (Discord's, which clients already know how to render):
 *   <@userId>    a user          <@&roleId>   a role          @everyone   every member
 * Ids are uuids. `@everyone` counts only as a word of its own (not inside `a@everyone.com`).
 * `@here` is not special: we keep no presence-based mentions.
 */
const USER = /<@([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})>/gi;
const ROLE = /<@&([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})>/gi;
const EVERYONE = /(?:^|[^\w@.<])@everyone(?![\w@])/i;

/**
 * Parses the mentions of a body: distinct user and role ids (lowercased, sorted) and
 * whether it mentions everyone.
 */
export function parseMentions(body: string): MessageMentions {
  // Every mention holds an @: most bodies have none, and need no regular expression.
  if (!body.includes('@')) return noMentions();
  const distinct = (re: RegExp) => [...new Set([...body.matchAll(re)].map((m) => m[1]!.toLowerCase()))].sort();
  return { userIds: distinct(USER), roleIds: distinct(ROLE), everyone: EVERYONE.test(body) };
}

/** How many mentions count against the per-message limit: users + roles + everyone. */
export function mentionCount(m: MessageMentions): number {
  return m.userIds.length + m.roleIds.length + (m.everyone ? 1 : 0);
}

/** No mentions (what a deleted message shows). */
export function noMentions(): MessageMentions {
  return { userIds: [], roleIds: [], everyone: false };
}
