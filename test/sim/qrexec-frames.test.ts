/** The qrexec connection framing and HELLO, fed hostile bytes, and the daemon's reaction to them. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import {
  CLIENT_FRAMES,
  DAEMON_FRAMES,
  encodeDataFrames,
  encodeExit,
  encodeFrame,
  FrameDecoder,
  FrameType,
} from '../../sim/qrexec/frames.ts';
import { parseHello, splitServiceCall } from '../../sim/qrexec/hello.ts';
import { MAX_QREXEC_DATA_FRAME, MAX_QREXEC_TEXT_FRAME } from '../../sim/qrexec/limits.ts';
import { startSim, type Sim } from '../helpers/qrexec-helpers.ts';

function header(type: number, length: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = type;
  b.writeUInt32BE(length, 1);
  return b;
}

function parseError(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError);
    return error as ParseError;
  }
  throw new Error('expected ParseError');
}

describe('FrameDecoder', () => {
  test('reassembles frames split at every byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame(FrameType.STDOUT, Buffer.from('abc')),
      encodeFrame(FrameType.STDERR, Buffer.alloc(0)),
      encodeExit(-3),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder(DAEMON_FRAMES);
      const frames = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(frames.map((f) => [f.type, f.payload.toString('hex')])).toEqual([
        [FrameType.STDOUT, '616263'],
        [FrameType.STDERR, ''],
        [FrameType.EXIT, 'fffffffd'],
      ]);
      expect(decoder.buffered).toBe(0);
    }
  });

  test('data is split into frames of at most MAX_QREXEC_DATA_FRAME', () => {
    const frames = encodeDataFrames(FrameType.STDIN, Buffer.alloc(MAX_QREXEC_DATA_FRAME * 2 + 1, 1));
    expect(frames.map((f) => f.readUInt32BE(1))).toEqual([MAX_QREXEC_DATA_FRAME, MAX_QREXEC_DATA_FRAME, 1]);
  });

  test('rejects frame types the reading side does not accept, with the offset', () => {
    const ok = encodeFrame(FrameType.STDIN, Buffer.from('x'));
    const error = parseError(() => new FrameDecoder(CLIENT_FRAMES).push(Buffer.concat([ok, encodeExit(0)])));
    expect([error.code, error.offset]).toEqual(['qrexec.frame.type', ok.length]);
    expect(parseError(() => new FrameDecoder(DAEMON_FRAMES).push(header(FrameType.HELLO, 0))).code).toBe(
      'qrexec.frame.type',
    );
    for (const type of [0, 7, 255]) {
      expect(parseError(() => new FrameDecoder(CLIENT_FRAMES).push(header(type, 0))).code).toBe(
        'qrexec.frame.type',
      );
    }
  });

  test('rejects declared lengths over the limit before buffering them', () => {
    const cases: [number, number][] = [
      [FrameType.STDIN, MAX_QREXEC_DATA_FRAME + 1],
      [FrameType.HELLO, MAX_QREXEC_TEXT_FRAME + 1],
      [FrameType.STDIN_EOF, 1],
      [FrameType.STDIN, 0xffffffff],
    ];
    for (const [type, length] of cases) {
      const error = parseError(() => new FrameDecoder(CLIENT_FRAMES).push(header(type, length)));
      expect([error.code, error.offset]).toEqual(['qrexec.frame.length', 1]);
    }
    expect(parseError(() => new FrameDecoder(DAEMON_FRAMES).push(header(FrameType.EXIT, 5))).code).toBe(
      'qrexec.frame.length',
    );
  });
});

describe('HELLO', () => {
  const good = {
    v: 1,
    kind: 'call',
    target: '@dispvm:default-dvm',
    service: 'tmpl.Worker+x',
    source: 'mgmt',
  };
  test('accepts a call and an exec request', () => {
    expect(parseHello(Buffer.from(JSON.stringify(good)))).toEqual(good);
    const exec = {
      v: 1,
      kind: 'exec',
      domain: 'work',
      source: 'dom0',
      service: 'qubes.PostInstall',
      timeoutSeconds: 5,
    };
    expect(parseHello(Buffer.from(JSON.stringify(exec)))).toEqual(exec);
  });
  test.each([
    ['not JSON', '{'],
    ['extra key', JSON.stringify({ ...good, extra: 1 })],
    ['wrong version', JSON.stringify({ ...good, v: 2 })],
    ['unknown kind', JSON.stringify({ ...good, kind: 'shell' })],
    ['service with a slash', JSON.stringify({ ...good, service: '../etc/passwd' })],
    ['service with a space', JSON.stringify({ ...good, service: 'a b' })],
    ['service too long', JSON.stringify({ ...good, service: 'a'.repeat(64) })],
    ['target with a space', JSON.stringify({ ...good, target: 'a b' })],
    ['target too long', JSON.stringify({ ...good, target: 'a'.repeat(40) })],
    ['source with a NUL', JSON.stringify({ ...good, source: 'a\0b' })],
    [
      'exec without source',
      JSON.stringify({ v: 1, kind: 'exec', domain: 'w', service: 's', timeoutSeconds: 1 }),
    ],
  ])('rejects %s', (_name, text) => {
    expect(parseError(() => parseHello(Buffer.from(text))).code).toBe('qrexec.frame.hello');
  });
  test('splits SERVICE+ARG as qrexec does', () => {
    expect(splitServiceCall('a.B')).toEqual({ service: 'a.B', argument: '+' });
    expect(splitServiceCall('a.B+')).toEqual({ service: 'a.B', argument: '+' });
    expect(splitServiceCall('a.B+x+y')).toEqual({ service: 'a.B', argument: '+x+y' });
  });
});

describe('the daemon against a hostile client', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(async () => sim?.close());

  async function exchange(bytes: Buffer): Promise<Buffer> {
    const socket = net.createConnection(sim.qrexec.socketPath);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.write(bytes);
    await new Promise((resolve) => socket.on('close', resolve));
    return Buffer.concat(chunks);
  }

  test('garbage, a frame before HELLO, or an oversized frame: the connection is dropped', async () => {
    expect(await exchange(Buffer.from('GET / HTTP/1.0\r\n\r\n'))).toEqual(Buffer.alloc(0));
    expect(await exchange(encodeFrame(FrameType.STDIN, Buffer.from('x')))).toEqual(Buffer.alloc(0));
    expect(await exchange(header(FrameType.HELLO, MAX_QREXEC_TEXT_FRAME + 1))).toEqual(Buffer.alloc(0));
  });

  test('an invalid HELLO gets an error message and status 125; the daemon keeps serving', async () => {
    const reply = await exchange(encodeFrame(FrameType.HELLO, Buffer.from('{"v":1}')));
    const frames = new FrameDecoder(DAEMON_FRAMES).push(reply);
    expect(frames.at(-1)).toEqual({ type: FrameType.EXIT, payload: Buffer.from([0, 0, 0, 125]) });
    expect(frames[0]!.payload.toString()).toMatch(/bad request/);
    const refused = await exchange(
      Buffer.concat([
        encodeFrame(
          FrameType.HELLO,
          Buffer.from(JSON.stringify({ v: 1, kind: 'call', target: 'dom0', service: 'admin.vm.List' })),
        ),
        encodeFrame(FrameType.STDIN_EOF),
      ]),
    );
    expect(new FrameDecoder(DAEMON_FRAMES).push(refused).at(-1)!.payload.readInt32BE(0)).toBe(126);
  });
});
