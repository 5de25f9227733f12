import { describe, expect, it } from 'vitest';
import { queryParam } from '../src/realtime/query-param.js';

/** What the WebSocket handler read before: the WHATWG URL parser's searchParams. */
const viaUrl = (target: string, name: string) => new URL(target, 'http://x').searchParams.get(name);

describe('queryParam (the ?connectionParams=1 flag of a WebSocket upgrade)', () => {
  const targets = [
    '/trpc',
    '/trpc?',
    '/trpc?connectionParams=1',
    '/trpc?connectionParams=0',
    '/trpc?connectionParams',
    '/trpc?connectionParams=',
    '/trpc?from=127.0.0.2&connectionParams=1',
    '/trpc?connectionParams=1&connectionParams=0',
    '/trpc?connectionParams=0&connectionParams=1',
    '/trpc?connectionparams=1',
    '/trpc?connection%50arams=1',
    '/trpc?connectionParams=%31',
    '/trpc?connectionParams=1+',
    '/trpc?connectionParams=1=2',
    '/trpc?&&connectionParams=1&&',
    '/trpc#?connectionParams=1',
    '/trpc?connectionParams=1#x',
    '/trpc?x=1#connectionParams=1',
    '/?connectionParams=1',
    '//host/trpc?connectionParams=1',
    '/trpc?connectionParams=%zz',
  ];
  for (const t of targets) {
    it(`reads ${t} as the URL parser does`, () => {
      expect(queryParam(t, 'connectionParams')).toBe(viaUrl(t, 'connectionParams'));
    });
  }
});
