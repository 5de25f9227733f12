import { createHash, randomUUID, timingSafeEqual, randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { and, count, eq, gt, inArray, isNotNull, isNull, lt, or, sql, sum } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { attachments, type StoredVariant } from '../db/schema/index.js';
import { conflict, invalid, notFound, rateLimited } from '../errors.js';
import type { Storage } from '../infra/storage.js';
import type { MessageAccess } from '../messages/access.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import { appendEvent } from '../messages/log.js';
import { Permission } from '../permissions/flags.js';
import {
  attachmentIdOfKey,
  cleanFilename,
  contentDisposition,
  formatBytes,
  overLimit,
  isImageType,
  maxBytesFor,
  uploadKey,
  fileKey,
  type VariantName,
} from './rules.js';
import type { Attachment, AttachmentPurpose, DownloadUrl, UploadTicket } from './types.js';
import { toAttachment, type AttachmentRow } from './views.js';

/** What the pipeline handler is told when it claims an upload. */
export type ClaimResult =
  | { claimed: false; reason: string; settled: boolean }
  | {
      claimed: true;
      attachmentId: string;
      declaredType: string;
      declaredSize: number;
      /** The limit of the declared type (bytes). */
      maxBytes: number;
      /** sharp's limitInputPixels. */
      limitInputPixels: number;
    };

/** What the pipeline handler reports (`media.complete`). */
export type Completion =
  | {
      status: 'ready';
      contentType: string;
      size: number;
      /** Files that are not images: where the checked bytes were copied (`fileKey`). */
      fileKey?: string | undefined;
      /** Images: the re-encoded full image and its renditions. */
      image?: { displayKey: string; width: number; height: number; animated: boolean; thumbhash: string; variants: StoredVariant[] } | undefined;
    }
  | { status: 'failed'; reason: string };

/** Publishes committed scope events (the hub). */
export interface EventPublisher {
  publish(e: ScopeEvent): Promise<void>;
}

const VIEW = Permission.View | Permission.ReadHistory;

/**
 * Files and media: presigned uploads (Slack's external upload, Matrix's async upload of
 * MSC2246), the pipeline's claim and completion, presigned downloads issued only to those
 * who can view the conversation (Matrix MSC3916's authenticated media), avatars and icons.
 * The handler in src/lambda/media.ts does the byte-level work; this service keeps the rows.
 */
export class MediaService {
  private readonly tokenHash: Buffer;
  /** The service token the pipeline handler sends (a configured secret, or one made for this process). */
  readonly serviceToken: string;

  constructor(
    private readonly db: Db,
    private readonly storage: Storage,
    private readonly access: MessageAccess,
    private readonly events: EventPublisher,
    private readonly config: Config['media'],
    private readonly log: Logger,
  ) {
    this.serviceToken = config.serviceToken ?? randomBytes(32).toString('base64url');
    this.tokenHash = sha256(this.serviceToken);
  }

  /** True for the pipeline's service token (constant-time compare; never a user session). */
  isServiceToken(token: string | null): boolean {
    return token !== null && timingSafeEqual(sha256(token), this.tokenHash);
  }

  /**
   * Creates a pending attachment and a presigned POST for it. The POST policy fixes the
   * key, the Content-Type and a content-length-range of exactly `size` bytes, so S3 itself
   * refuses a body of any other size (the pipeline checks the stored size again: not every store
   * enforces a policy). The caller checked the scope permission (AttachFiles, or
   * ManageScope for an icon).
   * @param input.size the file's size in bytes, as the client declares it.
   * @throws Invalid for a type or size over its limit; RateLimited past the pending-upload
   *   count or the daily byte quota (each message names the limit).
   */
  async createUpload(
    userId: string,
    input: { purpose: AttachmentPurpose; scopeId: string | null; filename: string; contentType: string; size: number },
  ): Promise<UploadTicket> {
    const type = input.contentType;
    if (input.purpose !== 'message' && !isImageType(type)) {
      throw invalid(`an ${input.purpose} must be an image (JPEG, PNG, WebP, GIF or AVIF), not ${type}`);
    }
    const max = maxBytesFor(type, this.config);
    if (input.size > max) {
      const over = overLimit(input.size, max);
      throw invalid(`${isImageType(type) ? 'images' : 'files'} may be at most ${over.limit}; this one is ${over.size}`);
    }
    const id = randomUUID();
    const key = uploadKey(id);
    await this.db.transaction(async (tx) => {
      // One user's quota checks and insert are serialised, so parallel calls cannot overshoot.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'media:' + userId}))`);
      const [pending] = await tx
        .select({ n: count() })
        .from(attachments)
        .where(and(eq(attachments.ownerId, userId), inArray(attachments.status, ['pending', 'processing']), isNull(attachments.deleteRequestedAt)));
      if ((pending?.n ?? 0) >= this.config.pendingMax) {
        throw rateLimited(`you have ${this.config.pendingMax} uploads waiting to be processed, the most allowed; wait for one to finish`);
      }
      const [day] = await tx
        .select({ bytes: sum(attachments.declaredSize) })
        .from(attachments)
        .where(and(eq(attachments.ownerId, userId), gt(attachments.createdAt, sql`now() - interval '24 hours'`)));
      const used = Number(day?.bytes ?? 0);
      if (used + input.size > this.config.dailyBytes) {
        throw rateLimited(`uploads are limited to ${formatBytes(this.config.dailyBytes)} per 24 hours; you have used ${formatBytes(used)}`);
      }
      await tx.insert(attachments).values({
        id,
        ownerId: userId,
        scopeId: input.scopeId,
        purpose: input.purpose,
        key,
        filename: cleanFilename(input.filename, limits.mediaFilenameMax),
        declaredType: type,
        declaredSize: input.size,
      });
    });
    const expiresAt = new Date(Date.now() + limits.mediaUploadUrlTtlSec * 1000);
    const post = await createPresignedPost(this.storage.client, {
      Bucket: this.storage.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', input.size, input.size],
        ['eq', '$Content-Type', type],
      ],
      Fields: { 'Content-Type': type },
      Expires: limits.mediaUploadUrlTtlSec,
    });
    return { attachmentId: id, url: post.url, fields: post.fields, expiresAt, maxBytes: input.size };
  }

  /**
   * The pipeline claims an upload before it reads a byte: `pending` becomes `processing`.
   * A claim held longer than the lease (a crashed run) may be taken again. Anything else
   * (already done, unknown key, marked for deletion) is refused, so a duplicate S3 event
   * makes no second set of variants.
   */
  async claim(key: string): Promise<ClaimResult> {
    const id = attachmentIdOfKey(key);
    if (!id) return { claimed: false, reason: 'not an upload key', settled: false };
    const leaseEnd = new Date(Date.now() - limits.mediaClaimLeaseMs);
    const [row] = await this.db
      .update(attachments)
      .set({ status: 'processing', claimedAt: new Date() })
      .where(
        and(
          eq(attachments.id, id),
          isNull(attachments.deleteRequestedAt),
          or(eq(attachments.status, 'pending'), and(eq(attachments.status, 'processing'), lt(attachments.claimedAt, leaseEnd))),
        ),
      )
      .returning();
    if (!row) {
      const [current] = await this.db
        .select({ status: attachments.status, key: attachments.key, displayKey: attachments.displayKey })
        .from(attachments)
        .where(eq(attachments.id, id));
      // `settled`: processed already (failed, or ready and served from elsewhere than the
      // upload key: an image, or a file copied to its `fileKey`); an object at the upload key
      // now is a second POST of the same fields, which the handler deletes. A file made ready
      // before files were copied out is still served from the upload key: not settled.
      const servedElsewhere = current?.displayKey != null || (current !== undefined && current.key !== uploadKey(id));
      const settled = current?.status === 'failed' || (current?.status === 'ready' && servedElsewhere);
      return { claimed: false, reason: current ? `already ${current.status}` : 'no such attachment', settled };
    }
    return {
      claimed: true,
      attachmentId: row.id,
      declaredType: row.declaredType,
      declaredSize: row.declaredSize,
      maxBytes: maxBytesFor(row.declaredType, this.config),
      limitInputPixels: this.config.limitInputPixels,
    };
  }

  /** Gives a claim back after a transient failure (the storage did not answer), so a retried event can run. */
  async release(attachmentId: string): Promise<void> {
    await this.db
      .update(attachments)
      .set({ status: 'pending', claimedAt: null })
      .where(and(eq(attachments.id, attachmentId), eq(attachments.status, 'processing')));
  }

  /**
   * Records the pipeline's result: `ready` with its metadata, or `failed` with a reason.
   * Only a claimed (`processing`) attachment changes. When it is attached to a message (or
   * is a scope's current icon), an `attachment.updated` event with its seq goes to the
   * conversation in the same transaction and is published after commit.
   * @returns whether it changed, and the attachment as it is now.
   * @throws NotFound for an unknown id.
   */
  async complete(attachmentId: string, result: Completion): Promise<{ changed: boolean; attachment: Attachment }> {
    if (result.status === 'ready' && result.fileKey !== undefined && result.fileKey !== fileKey(attachmentId)) {
      throw invalid(`fileKey must be ${fileKey(attachmentId)}`);
    }
    const { changed, row, events } = await this.db.transaction(async (tx) => {
      const set =
        result.status === 'ready'
          ? {
              status: 'ready' as const,
              contentType: result.contentType,
              size: result.size,
              ...(result.fileKey ? { key: result.fileKey } : {}),
              displayKey: result.image?.displayKey ?? null,
              width: result.image?.width ?? null,
              height: result.image?.height ?? null,
              animated: result.image?.animated ?? false,
              thumbhash: result.image?.thumbhash ?? null,
              variants: result.image?.variants ?? [],
              completedAt: new Date(),
            }
          : { status: 'failed' as const, failureReason: result.reason, completedAt: new Date() };
      // One statement on the usual path: only a claimed row changes (the UPDATE locks it, so
      // a concurrent completion waits, then finds it no longer 'processing').
      const [row] = await tx
        .update(attachments)
        .set(set)
        .where(and(eq(attachments.id, attachmentId), eq(attachments.status, 'processing')))
        .returning();
      if (!row) {
        const [current] = await tx.select().from(attachments).where(eq(attachments.id, attachmentId));
        if (!current) throw notFound('no such attachment');
        return { changed: false, row: current, events: [] as ScopeEvent[] };
      }
      const events: ScopeEvent[] = [];
      const visible = row.messageId !== null || (row.purpose === 'icon' && row.attachedAt !== null);
      if (visible && row.scopeId && !row.deleteRequestedAt) {
        const { createdAt: _createdAt, ...attachment } = toAttachment(row);
        const ev = await appendEvent(tx, {
          scopeId: row.scopeId,
          type: 'attachment.updated',
          actorId: null,
          payload: { messageId: row.messageId, attachment },
        });
        events.push(toScopeEvent(ev, null));
      }
      return { changed: true, row, events };
    });
    for (const e of events) await this.events.publish(e);
    if (changed) this.log.info({ attachmentId, status: row.status, reason: row.failureReason ?? undefined }, 'attachment processed');
    return { changed, attachment: toAttachment(row) };
  }

  /**
   * One attachment, for someone who may see it (see `canView`).
   * @throws NotFound when it does not exist or the caller may not see it (no oracle).
   */
  async get(userId: string, attachmentId: string): Promise<Attachment> {
    return toAttachment(await this.visibleRow(userId, attachmentId));
  }

  /**
   * A presigned GET (expiring within `MEDIA_DOWNLOAD_TTL_SEC`, at most 5 minutes, as
   * Discord's signed CDN URLs expire) for the image, one of its variants, or the file.
   * Processed raster images are served inline; every other file as `attachment` with its
   * sniffed type (SVG and HTML never render inline).
   * @throws NotFound when it does not exist or the caller may not see it (a non-member, a
   *   member who left); Conflict while it is still processing; Invalid when it failed or a
   *   variant is asked of a file.
   */
  async downloadUrl(userId: string, attachmentId: string, variant: 'original' | VariantName = 'original'): Promise<DownloadUrl> {
    const row = await this.visibleRow(userId, attachmentId);
    if (row.status === 'failed') throw invalid(`this attachment failed: ${row.failureReason ?? 'processing failed'}`);
    if (row.status !== 'ready') throw conflict('this attachment is still being processed; retry when its attachment.updated event arrives');
    let key: string;
    let contentType = row.contentType ?? 'application/octet-stream';
    let filename = row.filename;
    const image = row.displayKey !== null;
    if (variant === 'original') {
      key = row.displayKey ?? row.key;
    } else {
      if (!image) throw invalid('variants exist only for images; ask for the original');
      const v = row.variants.find((x) => x.name === variant);
      if (!v) throw invalid(`this image has no ${variant} variant`);
      key = v.key;
      contentType = v.contentType;
      filename = `${filename.replace(/\.[^.]*$/, '')}-${variant}.webp`;
    }
    const expiresIn = this.config.downloadTtlSec;
    const url = await getSignedUrl(
      this.storage.client,
      new GetObjectCommand({
        Bucket: this.storage.bucket,
        Key: key,
        ResponseContentType: contentType,
        ResponseContentDisposition: contentDisposition(image, filename),
      }),
      { expiresIn },
    );
    return { url, expiresAt: new Date(Date.now() + expiresIn * 1000), contentType, disposition: image ? 'inline' : 'attachment' };
  }

  /**
   * Makes an uploaded image the caller's avatar; the previous one is marked for deletion.
   * @throws NotFound for an unknown or someone else's attachment; Invalid for one made
   *   for another purpose, or one that failed.
   */
  async setAvatar(userId: string, attachmentId: string): Promise<Attachment> {
    return this.makeCurrent(attachmentId, 'avatar', (r) => r.ownerId === userId, eq(attachments.ownerId, userId));
  }

  /**
   * Makes an uploaded image a scope's icon; the previous one is marked for deletion. The
   * caller checked ManageScope.
   * @throws NotFound for an unknown attachment, or one of another user or scope; Invalid
   *   for one made for another purpose, or one that failed.
   */
  async setIcon(userId: string, scopeId: string, attachmentId: string): Promise<Attachment> {
    return this.makeCurrent(attachmentId, 'icon', (r) => r.ownerId === userId && r.scopeId === scopeId, eq(attachments.scopeId, scopeId));
  }

  /** A user's current avatar, or null. */
  async avatarOf(userId: string): Promise<Attachment | null> {
    return this.current('avatar', eq(attachments.ownerId, userId));
  }

  /** A scope's current icon, or null. */
  async iconOf(scopeId: string): Promise<Attachment | null> {
    return this.current('icon', eq(attachments.scopeId, scopeId));
  }

  private async current(purpose: 'avatar' | 'icon', owner: ReturnType<typeof eq>): Promise<Attachment | null> {
    const [row] = await this.db
      .select()
      .from(attachments)
      .where(and(eq(attachments.purpose, purpose), owner, isNotNull(attachments.attachedAt), isNull(attachments.deleteRequestedAt)));
    return row ? toAttachment(row) : null;
  }

  private async makeCurrent(
    attachmentId: string,
    purpose: 'avatar' | 'icon',
    mine: (r: AttachmentRow) => boolean,
    slot: ReturnType<typeof eq>,
  ): Promise<Attachment> {
    const row = await this.db.transaction(async (tx) => {
      const [r] = await tx.select().from(attachments).where(eq(attachments.id, attachmentId)).for('update');
      if (!r || r.deleteRequestedAt || !mine(r)) throw notFound('no such attachment; upload the image first with media.createUpload');
      if (r.purpose !== purpose) throw invalid(`this attachment was uploaded as a ${r.purpose}; upload it with purpose '${purpose}'`);
      if (r.status === 'failed') throw invalid(`this image failed: ${r.failureReason ?? 'processing failed'}`);
      if (r.attachedAt) return r;
      const now = new Date();
      await tx
        .update(attachments)
        .set({ deleteRequestedAt: now })
        .where(and(eq(attachments.purpose, purpose), slot, isNotNull(attachments.attachedAt), isNull(attachments.deleteRequestedAt)));
      const [updated] = await tx.update(attachments).set({ attachedAt: now }).where(eq(attachments.id, attachmentId)).returning();
      return updated!;
    });
    return toAttachment(row);
  }

  /**
   * Who may see an attachment: a message's, anyone who can view its conversation (the
   * uploader too, only while they can); one not yet sent, its uploader; an avatar, any
   * signed-in user once it is someone's avatar; an icon, anyone who can view the scope.
   * One marked for deletion, nobody.
   */
  private async visibleRow(userId: string, attachmentId: string): Promise<AttachmentRow> {
    const [row] = await this.db.select().from(attachments).where(eq(attachments.id, attachmentId));
    const hidden = () => notFound('no such attachment');
    if (!row || row.deleteRequestedAt) throw hidden();
    const sentOrCurrent = row.messageId !== null || row.attachedAt !== null;
    if (!sentOrCurrent) {
      if (row.ownerId !== userId) throw hidden();
      return row;
    }
    if (row.purpose === 'avatar') return row;
    if (!row.scopeId || !(await this.access.allows(userId, row.scopeId, VIEW))) throw hidden();
    return row;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
