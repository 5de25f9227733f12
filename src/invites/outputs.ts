import { z } from 'zod';
import { MembershipOutput } from '../members/outputs.js';
import { ScopeOutput } from '../scopes/outputs.js';
import type { Invite, Redemption } from './service.js';

/** An invite as its creator sees it (`Invite`). */
export const InviteOutput = z.object({
  id: z.guid(),
  code: z.string(),
  scopeId: z.guid(),
  createdBy: z.guid(),
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  createdAt: z.date(),
}) satisfies z.ZodType<Invite>;

/** `invites.redeem` (`Redemption`). */
export const RedemptionOutput = z.object({
  scope: ScopeOutput,
  membership: MembershipOutput,
  joined: z.boolean(),
}) satisfies z.ZodType<Redemption>;
