import { describe, expectTypeOf, it } from 'vitest';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../src/router.js';
import type { AuthResult, User } from '../../src/auth/types.js';
import type { Scope } from '../../src/scopes/types.js';
import type { MemberPage, Membership } from '../../src/members/service.js';
import type { Role } from '../../src/roles/service.js';
import type { EffectiveView } from '../../src/permissions/service.js';
import type { Overwrite } from '../../src/permissions/overwrites.js';
import type { Invite, Redemption } from '../../src/invites/service.js';
import type { Ban } from '../../src/moderation/service.js';
import type { AuditPage } from '../../src/audit/service.js';
import type { DirectConversation } from '../../src/dms/service.js';
import type { Message, MessagePage, MessageVersion, Pin, SearchPage, ThreadPage } from '../../src/messages/types.js';
import type { ReadState } from '../../src/readstate/types.js';
import type { PresenceEvent } from '../../src/realtime/presence.js';
import type { TypingEvent } from '../../src/realtime/typing.js';
import type { Attendees, CalendarEvent, EventInstance, IcsExport, InstancePage, Reminder, Rsvp, SeriesEdit, SeriesSaved } from '../../src/events/types.js';

type O = inferRouterOutputs<AppRouter>;

/**
 * The `.output()` schemas (which the REST view needs) leave the SDK's types as they were:
 * each procedure's output is its domain type, with `Date` and `bigint` (superjson carries
 * them over tRPC). Checked by `tsc` (npm run typecheck, part of npm test).
 */
describe('output schemas keep the SDK types exact', () => {
  it('are the domain types', () => {
    expectTypeOf<O['auth']['signIn']>().toEqualTypeOf<AuthResult>();
    expectTypeOf<O['auth']['me']>().toEqualTypeOf<User>();
    expectTypeOf<O['scopes']['get']>().toEqualTypeOf<Scope>();
    expectTypeOf<O['members']['join']>().toEqualTypeOf<Membership>();
    expectTypeOf<O['members']['list']>().toEqualTypeOf<MemberPage>();
    expectTypeOf<O['roles']['create']>().toEqualTypeOf<Role>();
    expectTypeOf<O['roles']['create']['permissions']>().toEqualTypeOf<bigint>();
    expectTypeOf<O['permissions']['effective']>().toEqualTypeOf<EffectiveView>();
    expectTypeOf<O['permissions']['listOverwrites']>().toEqualTypeOf<Overwrite[]>();
    expectTypeOf<O['invites']['create']>().toEqualTypeOf<Invite>();
    expectTypeOf<O['invites']['redeem']>().toEqualTypeOf<Redemption>();
    expectTypeOf<O['moderation']['listBans']>().toEqualTypeOf<Ban[]>();
    expectTypeOf<O['audit']['list']>().toEqualTypeOf<AuditPage>();
    expectTypeOf<O['dms']['open']>().toEqualTypeOf<DirectConversation>();
    expectTypeOf<O['messages']['send']>().toEqualTypeOf<Message>();
    expectTypeOf<O['messages']['list']>().toEqualTypeOf<MessagePage>();
    expectTypeOf<O['messages']['thread']>().toEqualTypeOf<ThreadPage>();
    expectTypeOf<O['messages']['history']>().toEqualTypeOf<MessageVersion[]>();
    expectTypeOf<O['messages']['search']>().toEqualTypeOf<SearchPage>();
    expectTypeOf<O['pins']['list']>().toEqualTypeOf<Pin[]>();
    expectTypeOf<O['readState']['mark']>().toEqualTypeOf<ReadState>();
    expectTypeOf<O['typing']['start']>().toEqualTypeOf<TypingEvent>();
    expectTypeOf<O['presence']['get']>().toEqualTypeOf<PresenceEvent[]>();
    expectTypeOf<O['events']['create']>().toEqualTypeOf<SeriesSaved>();
    expectTypeOf<O['events']['get']>().toEqualTypeOf<CalendarEvent>();
    expectTypeOf<O['events']['update']>().toEqualTypeOf<SeriesEdit>();
    expectTypeOf<O['events']['updateInstance']>().toEqualTypeOf<EventInstance>();
    expectTypeOf<O['events']['instances']>().toEqualTypeOf<InstancePage>();
    expectTypeOf<O['events']['rsvp']>().toEqualTypeOf<Rsvp | null>();
    expectTypeOf<O['events']['attendees']>().toEqualTypeOf<Attendees>();
    expectTypeOf<O['events']['reminders']>().toEqualTypeOf<Reminder[]>();
    expectTypeOf<O['events']['ics']>().toEqualTypeOf<IcsExport>();
    expectTypeOf<O['health']['time']>().toEqualTypeOf<Date>();
  });
});
