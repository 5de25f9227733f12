import type { Attachment, AttachmentUpdate, GuildhallClient } from '@guildhall/sdk';
import { thumbHashToDataURL } from 'thumbhash';
import { describeError } from './session.js';

type Shown = Attachment | AttachmentUpdate;

/**
 * Uploads one file for a message of `scopeId`: `media.createUpload` (the server checks the
 * permission, the size and type limits and the quotas), then the presigned POST straight to
 * the object store: its `fields` first, then the file as `file`. The store must allow the
 * page's origin (a CORS rule on the bucket; the embedded store allows CORS_ORIGINS).
 * @returns the attachment id to pass to `messages.send`.
 * @throws the server's error (a person can read it), or an Error with the store's answer.
 */
export async function uploadFile(client: GuildhallClient, scopeId: string, file: File): Promise<string> {
  const ticket = await client.media.createUpload.mutate({ scopeId, filename: file.name, contentType: file.type || 'application/octet-stream', size: file.size });
  const form = new FormData();
  for (const [k, v] of Object.entries(ticket.fields)) form.append(k, v);
  form.append('file', file);
  let res: Response;
  try {
    res = await fetch(ticket.url, { method: 'POST', body: form });
  } catch {
    throw new Error(`the file store at ${new URL(ticket.url).origin} refused the upload: does its CORS rule allow ${location.origin}?`);
  }
  if (!res.ok) {
    const text = await res.text();
    throw new Error(`the file store refused ${file.name}: ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? res.status}`);
  }
  return ticket.attachmentId;
}

/**
 * The files chosen in the composer: each is uploaded at once (shown as a chip with its
 * state), and `take()` hands the ids of the finished ones to the next send.
 */
export class UploadTray {
  private items: { file: File; done: Promise<string | null>; chip: HTMLElement }[] = [];

  constructor(
    private readonly client: GuildhallClient,
    private readonly tray: HTMLElement,
  ) {}

  /** Starts uploading `files` for `scopeId`. */
  add(scopeId: string, files: Iterable<File>): void {
    for (const file of files) {
      const chip = document.createElement('span');
      chip.className = 'chip';
      chip.dataset.state = 'uploading';
      chip.textContent = `${file.name} · uploading…`;
      const done = uploadFile(this.client, scopeId, file).then(
        (id) => {
          chip.dataset.state = 'uploaded';
          chip.textContent = `${file.name} · ready to send`;
          return id;
        },
        (err: unknown) => {
          chip.dataset.state = 'failed';
          chip.textContent = `${file.name}: ${describeError(err)} ×`;
          chip.title = 'Dismiss';
          chip.addEventListener('click', () => chip.remove());
          return null;
        },
      );
      this.items.push({ file, done, chip });
      this.tray.append(chip);
    }
  }

  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  /** Waits for the uploads in flight; returns the ids that made it and empties the tray. */
  async take(): Promise<string[]> {
    const items = this.items;
    this.items = [];
    const ids = await Promise.all(items.map((i) => i.done));
    for (const i of items) if (i.chip.dataset.state !== 'failed') i.chip.remove();
    return ids.filter((id): id is string => id !== null);
  }

  /** Forgets everything (another conversation was opened). */
  clear(): void {
    this.items = [];
    this.tray.replaceChildren();
  }
}

/** The files of a message: pending (being checked), ready (a thumbnail or a download link), or failed with its reason. */
export function renderAttachments(client: GuildhallClient, attachments: readonly Shown[]): HTMLElement {
  const box = document.createElement('div');
  box.className = 'attachments';
  for (const a of attachments) box.append(renderAttachment(client, a));
  return box;
}

/** Replaces an attachment shown in `line` after its `attachment.updated` event. */
export function updateAttachment(client: GuildhallClient, line: HTMLElement, a: AttachmentUpdate): void {
  const old = line.querySelector(`.attachment[data-attachment-id="${CSS.escape(a.id)}"]`);
  if (old) old.replaceWith(renderAttachment(client, a));
  else (line.querySelector('.attachments') ?? line.appendChild(renderAttachments(client, []))).append(renderAttachment(client, a));
}

function renderAttachment(client: GuildhallClient, a: Shown): HTMLElement {
  const box = document.createElement('div');
  box.className = 'attachment';
  box.dataset.attachmentId = a.id;
  box.dataset.status = a.status;
  const name = `${a.filename} (${size(a.size)})`;
  if (a.status === 'pending') {
    box.textContent = `${name} · processing…`;
  } else if (a.status === 'failed') {
    box.textContent = `${name} · failed: ${a.failureReason ?? 'unknown reason'}`;
  } else if (a.isImage) {
    const img = document.createElement('img');
    img.alt = a.filename;
    const small = a.variants.find((v) => v.name === '160');
    if (small) [img.width, img.height] = [small.width, small.height];
    if (a.thumbhash) img.style.backgroundImage = `url(${placeholder(a.thumbhash)})`;
    void client.media.downloadUrl
      .query({ attachmentId: a.id, variant: small ? '160' : 'original' })
      .then((u) => (img.src = u.url))
      .catch((err: unknown) => (img.alt = `${a.filename}: ${describeError(err)}`));
    const link = download(client, a.id, img);
    box.append(link);
  } else {
    box.append(download(client, a.id, `Download ${name}`));
  }
  return box;
}

/**
 * A link to the file: a presigned URL fetched when drawn, asked again on a click once it
 * has expired (they last at most 5 minutes, as Discord's signed CDN links).
 */
function download(client: GuildhallClient, attachmentId: string, content: string | Node): HTMLAnchorElement {
  const link = document.createElement('a');
  link.className = 'download';
  link.target = '_blank';
  link.rel = 'noopener';
  link.append(content);
  let expires = 0;
  const refresh = () =>
    client.media.downloadUrl.query({ attachmentId }).then((u) => {
      link.href = u.url;
      expires = u.expiresAt.getTime();
      return u.url;
    });
  void refresh().catch(() => undefined);
  link.addEventListener('click', (e) => {
    if (Date.now() < expires - 10_000) return;
    e.preventDefault();
    void refresh().then((url) => window.open(url, '_blank', 'noopener'));
  });
  return link;
}

function placeholder(thumbhash: string): string {
  try {
    return thumbHashToDataURL(Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0)));
  } catch {
    return '';
  }
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
