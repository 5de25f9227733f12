import type http from 'node:http';
import { randomUUID } from 'node:crypto';

/** What an incoming `x-request-id` may hold to be kept: 1–128 of `A–Z a–z 0–9 . _ : -` (uuids, ULIDs, most proxies' ids). */
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of one HTTP request: the client's (or its proxy's) `x-request-id` when it
 * is sane (above), else a new uuid; so a header cannot put spaces, quotes or a kilobyte
 * into the log line or the answer. The server sends it back as `x-request-id` on every
 * response and writes it in the request's log lines (src/ops/calls.ts).
 */
export function requestIdOf(req: http.IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && SANE.test(sent) ? sent : randomUUID();
}
