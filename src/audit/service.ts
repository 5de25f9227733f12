import { and, desc, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { auditLog, scopes } from '../db/schema/index.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';

/** One audit entry: who (`actorId`) did what (`action`, `context`: the procedure) to whom, before and after. */
export interface AuditEntry {
  id: number;
  scopeId: string;
  actorId: string | null;
  /** e.g. member.add, member.remove, owner.add, role.update, overwrite.set, ban.add, invite.redeem, scope.move. */
  action: string;
  /** The procedure that caused it, e.g. moderation.kick (null for writes outside the API). */
  context: string | null;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  createdAt: Date;
}

/** A page of the audit log: pass `nextCursor` as `cursor` (null at the end). */
export interface AuditPage {
  items: AuditEntry[];
  nextCursor: number | null;
}

/** Reads the audit log, which only triggers write (drizzle/0006_governance_triggers.sql). */
export class AuditService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
  ) {}

  /**
   * `audit.list`: entries of the scope and its subtree, newest first. Needs ViewAuditLog.
   * @throws NotFound, Forbidden.
   */
  async list(actorId: string, scopeId: string, cursor: number | undefined, limit: number): Promise<AuditPage> {
    const a = await this.access.require(actorId, scopeId, Permission.ViewAuditLog);
    const rows = await this.db
      .select({
        id: auditLog.id,
        scopeId: auditLog.scopeId,
        actorId: auditLog.actorId,
        action: auditLog.action,
        context: auditLog.context,
        targetType: auditLog.targetType,
        targetId: auditLog.targetId,
        before: auditLog.before,
        after: auditLog.after,
        createdAt: auditLog.createdAt,
      })
      .from(auditLog)
      .where(
        and(
          sql`${auditLog.communityId} = ${a.communityId}`,
          sql`${auditLog.scopeId} in (select ${scopes.id} from ${scopes} where ${scopes.id} = ${scopeId} or ${scopeId}::uuid = any (${scopes.path}))`,
          cursor !== undefined ? lt(auditLog.id, cursor) : undefined,
        ),
      )
      .orderBy(desc(auditLog.id))
      .limit(limit + 1);
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }
}
