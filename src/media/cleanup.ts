import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { attachments, mediaObjectDeletions } from '../db/schema/index.js';
import type { Storage } from '../infra/storage.js';
import type { MediaService } from './service.js';

/** How long after its creation an attachment still unprocessed is failed as never uploaded (ms). */
const NEVER_UPLOADED_MS = limits.mediaUploadUrlTtlSec * 1000 + 3_600_000;

/**
 * The one media cleanup job. Each tick it takes (SKIP LOCKED, so several instances share
 * the work) up to `limits.mediaCleanupBatch` attachments that are either marked for
 * deletion (their message was deleted or purged: trigger of drizzle/0036; their scope was
 * deleted: drizzle/0049; a replaced avatar or icon) or were never attached and are older than `pendingExpiryMs` (24 h by default),
 * marks the latter too, deletes every object of each (upload, re-encoded image, variants)
 * and then the rows. All its state is in the database: a restart, or an instance dying
 * between the two steps, leaves the rows marked and the next tick of any instance finishes
 * them (deleting an object twice is harmless). Then it deletes the objects of attachment
 * rows that something else removed (a cascade), whose keys a trigger queued
 * (`media_object_deletions`, drizzle/0049).
 *
 * It also settles attachments that were sent (or made an avatar or icon) but whose file
 * never arrived: still unprocessed `NEVER_UPLOADED_MS` after creation (the upload URL's
 * lifetime plus an hour, so an upload begun just before its URL expired has time to finish), each is claimed and reported `failed` through `MediaService.complete`, so its
 * conversation gets the `attachment.updated` a processed one would. A file posted later
 * finds it settled, and the handler deletes the object.
 */
export class MediaCleanup {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly db: Db,
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly opts: { pendingExpiryMs: number; everyMs: number },
    private readonly media: Pick<MediaService, 'complete'>,
  ) {}

  /** Runs a tick every `everyMs`; errors are logged and retried on the next tick. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce().catch((err) => this.log.error({ err }, 'media cleanup failed')), this.opts.everyMs);
    this.timer.unref();
  }

  /** Stops the ticks and waits for a running one. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /**
   * One tick (also for tests and operators).
   * @returns how many attachments it deleted, plus the queued keys of removed rows it
   *   deleted (the attachments it failed as never uploaded are not counted).
   */
  runOnce(): Promise<number> {
    this.running ??= this.tick().finally(() => (this.running = null));
    return this.running;
  }

  private async tick(): Promise<number> {
    const deleted = (await this.attachmentsDue()) + (await this.queuedObjects());
    await this.neverUploaded();
    return deleted;
  }

  /**
   * Sent attachments whose file never arrived (see the class): claimed here as the
   * pipeline would claim them (SKIP LOCKED; a claim whose lease ran out, an instance having
   * died before reporting, is taken again), then reported failed.
   */
  private async neverUploaded(): Promise<void> {
    const cutoff = sql`now() - make_interval(secs => ${NEVER_UPLOADED_MS / 1000})`;
    const leaseEnd = sql`now() - make_interval(secs => ${limits.mediaClaimLeaseMs / 1000})`;
    const due = await this.db
      .update(attachments)
      .set({ status: 'processing', claimedAt: sql`now()` })
      .where(
        inArray(
          attachments.id,
          sql`(select id from ${attachments}
                where status in ('pending', 'processing') and created_at < ${cutoff}
                  and (status = 'pending' or claimed_at < ${leaseEnd})
                  and (message_id is not null or attached_at is not null) and delete_requested_at is null
                order by created_at limit ${limits.mediaCleanupBatch}
                for update skip locked)`,
        ),
      )
      .returning({ id: attachments.id });
    for (const { id } of due) {
      await this.media.complete(id, { status: 'failed', reason: 'the file never arrived in storage before its upload URL expired; upload it again' });
    }
    if (due.length > 0) this.log.info({ failed: due.length }, 'media cleanup: attachments never uploaded marked failed');
  }

  /** Marked and expired attachments: their objects, then their rows. */
  private async attachmentsDue(): Promise<number> {
    const expiry = sql`now() - make_interval(secs => ${this.opts.pendingExpiryMs / 1000})`;
    const doomed = await this.db
      .update(attachments)
      .set({ deleteRequestedAt: sql`coalesce(${attachments.deleteRequestedAt}, now())` })
      .where(
        inArray(
          attachments.id,
          sql`(select id from ${attachments}
                where delete_requested_at is not null
                   or (message_id is null and attached_at is null and created_at < ${expiry})
                order by created_at limit ${limits.mediaCleanupBatch}
                for update skip locked)`,
        ),
      )
      .returning({ id: attachments.id, key: attachments.key, displayKey: attachments.displayKey, variants: attachments.variants });
    if (doomed.length === 0) return 0;
    const keys = doomed.flatMap((d) => [d.key, ...(d.displayKey ? [d.displayKey] : []), ...d.variants.map((v) => v.key)]);
    await this.deleteObjects(keys);
    await this.db.transaction(async (tx) => {
      // Their objects are gone: the queueing trigger of drizzle/0049 skips these rows.
      await tx.execute(sql`select set_config('guildhall.media_objects_deleted', 'on', true)`);
      await tx.delete(attachments).where(inArray(attachments.id, doomed.map((d) => d.id)));
    });
    this.log.info({ deleted: doomed.length, objects: keys.length }, 'media cleanup');
    return doomed.length;
  }

  /**
   * Object keys left by attachment rows that a cascade removed (a scope or user row
   * deleted; trigger of drizzle/0049): the objects, then the queue rows, in one
   * transaction that holds them (SKIP LOCKED, so instances share the queue). An instance
   * dying in between leaves the keys queued for the next tick.
   */
  private async queuedObjects(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({ key: mediaObjectDeletions.key })
        .from(mediaObjectDeletions)
        .orderBy(mediaObjectDeletions.queuedAt)
        .limit(limits.mediaCleanupBatch)
        .for('update', { skipLocked: true });
      if (rows.length === 0) return 0;
      const keys = rows.map((r) => r.key);
      await this.deleteObjects(keys);
      await tx.delete(mediaObjectDeletions).where(inArray(mediaObjectDeletions.key, keys));
      this.log.info({ objects: keys.length }, 'media cleanup of objects whose rows were removed');
      return keys.length;
    });
  }

  /** Deletes `keys` from the bucket, 1,000 per request (a missing key is fine). @throws when storage refuses one. */
  private async deleteObjects(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await this.storage.client.send(
        new DeleteObjectsCommand({ Bucket: this.storage.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new Error(`deleting ${failed.length} objects failed: ${failed[0]!.Code} ${failed[0]!.Message}`);
    }
  }
}
