/**
 * The requests of one worker session (protocol/request-sequence.ts): a query, then at most one
 * package; unpack alone; never more than MAX_REQUESTS_PER_SESSION. And the HELLO field that
 * tells how many requests a worker answers, bounded by the same maximum.
 */
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import type { WorkerOp } from '../../protocol/frames.ts';
import { decodeJsonFrame, encodeMessageFrame, HelloSchema } from '../../protocol/messages.ts';
import { MAX_REQUESTS_PER_SESSION, RequestSequence } from '../../protocol/request-sequence.ts';
import { decodeFrames, encodeJsonFrame } from '../../protocol/frames.ts';

function accepts(ops: readonly WorkerOp[]): RequestSequence {
  const sequence = new RequestSequence();
  for (const op of ops) sequence.accept(op);
  return sequence;
}

function refused(ops: readonly WorkerOp[], message: RegExp): void {
  const sequence = new RequestSequence();
  const last = ops.at(-1)!;
  for (const op of ops.slice(0, -1)) sequence.accept(op);
  let thrown: unknown;
  try {
    sequence.accept(last);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ParseError);
  expect((thrown as ParseError).code).toBe('message.sequence');
  expect((thrown as ParseError).message).toMatch(message);
  // A refused request is not counted.
  expect(sequence.ops).toEqual(ops.slice(0, -1));
}

describe('RequestSequence', () => {
  it('allows a query followed by one package request, and every single request', () => {
    for (const op of ['fetch', 'download', 'header'] as const) {
      const sequence = accepts(['query', op]);
      expect(sequence.complete).toBe(true);
    }
    for (const op of ['query', 'fetch', 'download', 'header', 'unpack'] as const) accepts([op]);
    expect(accepts(['query']).complete).toBe(false);
    expect(accepts(['fetch']).complete).toBe(true);
    expect(MAX_REQUESTS_PER_SESSION).toBe(2);
  });

  it('refuses a second package in one session (each package gets its own disposable)', () => {
    refused(['fetch', 'fetch'], /one package per session/);
    refused(['query', 'fetch', 'header'], /at most 2 requests/);
    refused(['header', 'download'], /one package per session/);
  });

  it('refuses a query after the first request, and unpack anywhere but alone', () => {
    refused(['query', 'query'], /query comes first/);
    refused(['query', 'unpack'], /unpack is the only request/);
    refused(['unpack', 'query'], /one package per session/);
  });

  it('keeps hello alone: nothing before it, nothing after it', () => {
    expect(accepts(['hello']).complete).toBe(true);
    refused(['query', 'hello'], /hello is the only request/);
    refused(['hello', 'query'], /hello is alone in its session/);
    refused(['hello', 'fetch'], /hello is alone in its session/);
  });

  it('refuses any request beyond the maximum', () => {
    refused(['query', 'fetch', 'query'], new RegExp(`at most ${MAX_REQUESTS_PER_SESSION} requests`));
  });
});

describe('HELLO requests', () => {
  const hello = (requests: unknown): unknown => ({ protocol: 1, worker: '0.1.0', requests });

  it('carries the requests a worker answers, 1 to MAX_REQUESTS_PER_SESSION, or nothing', async () => {
    const frame = encodeMessageFrame('HELLO', { protocol: 1, worker: '0.1.0', requests: 2 });
    for await (const decoded of decodeFrames([frame])) {
      expect(decodeJsonFrame(decoded, 'HELLO').requests).toBe(2);
    }
    expect(HelloSchema.safeParse({ protocol: 1, worker: '0.1.0' }).success).toBe(true);
  });

  it('refuses a count out of bounds or not an integer', async () => {
    for (const requests of [0, -1, MAX_REQUESTS_PER_SESSION + 1, 1.5, '2', null, 2 ** 53]) {
      expect(HelloSchema.safeParse(hello(requests)).success, String(requests)).toBe(false);
      const frame = encodeJsonFrame('HELLO', hello(requests));
      for await (const decoded of decodeFrames([frame])) {
        expect(() => decodeJsonFrame(decoded, 'HELLO')).toThrow(/requests/);
      }
    }
  });
});
