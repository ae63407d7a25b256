/**
 * One client connection on the daemon side: decodes the client's frames, feeds STDIN to the
 * endpoint with backpressure, and frames the endpoint's stdout/stderr and exit status back.
 *
 * Buffering: frames decoded from one socket chunk wait in `queue` while the endpoint's stdin is
 * full or not attached yet; the socket is paused meanwhile, so at most one socket read (64 KiB)
 * plus one incomplete frame is held. Output is forwarded chunk by chunk; a full socket pauses
 * the endpoint's stdout/stderr until it drains.
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';
import {
  CLIENT_FRAMES,
  encodeDataFrames,
  encodeExit,
  FrameDecoder,
  FrameType,
  type Frame,
} from './frames.ts';
import type { Endpoint } from './endpoints.ts';

export class ClientConnection {
  private readonly decoder = new FrameDecoder(CLIENT_FRAMES);
  private readonly queue: Frame[] = [];
  private helloWaiter: ((payload: Buffer | null) => void) | null = null;
  private helloPayload: Buffer | null = null;
  private endpoint: Endpoint | null = null;
  private blocked = false;
  private eofSeen = false;
  /** Set when the client went away (closed, crashed, was killed) or broke the protocol. */
  closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
  }

  /** The HELLO payload, or null when the client left or sent something else first. */
  hello(): Promise<Buffer | null> {
    if (this.helloPayload || this.closed) return Promise.resolve(this.helloPayload);
    return new Promise((resolve) => (this.helloWaiter = resolve));
  }

  onClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.helloWaiter?.(null);
    this.helloWaiter = null;
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  /** Drops the client (daemon shutdown): the endpoint is killed as if the caller had died. */
  abort(): void {
    this.socket.destroy();
    this.onClose();
  }

  private protocolError(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.protocolError();
      return;
    }
    for (const frame of frames) {
      if (this.helloPayload === null) {
        if (frame.type !== FrameType.HELLO) return this.protocolError();
        this.helloPayload = Buffer.from(frame.payload);
        this.helloWaiter?.(this.helloPayload);
        this.helloWaiter = null;
        continue;
      }
      if (frame.type === FrameType.HELLO || this.eofSeen) return this.protocolError();
      if (frame.type === FrameType.STDIN_EOF) this.eofSeen = true;
      this.queue.push(frame);
    }
    this.pump();
  }

  /** Moves queued stdin frames into the endpoint while it accepts them. */
  private pump(): void {
    if (this.blocked) return;
    const endpoint = this.endpoint;
    while (endpoint && this.queue.length > 0) {
      const frame = this.queue.shift()!;
      if (frame.type === FrameType.STDIN_EOF) {
        endpoint.stdin.end();
        continue;
      }
      if (endpoint.stdin.writableEnded || endpoint.stdin.destroyed) continue;
      if (!endpoint.stdin.write(frame.payload)) {
        this.blocked = true;
        const unblock = (): void => {
          endpoint.stdin.off('drain', unblock);
          endpoint.stdin.off('close', unblock);
          this.blocked = false;
          this.pump();
        };
        endpoint.stdin.on('drain', unblock);
        endpoint.stdin.on('close', unblock);
        break;
      }
    }
    if (this.queue.length > 0 || this.blocked) this.socket.pause();
    else this.socket.resume();
  }

  private forward(stream: Readable, type: typeof FrameType.STDOUT | typeof FrameType.STDERR): Promise<void> {
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer | string) => {
        if (this.closed) return;
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        let ok = true;
        for (const frame of encodeDataFrames(type, data)) ok = this.socket.write(frame) && ok;
        if (!ok) {
          stream.pause();
          this.socket.once('drain', () => stream.resume());
        }
      });
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', resolve);
    });
  }

  /** Connects the client to `endpoint` and returns its exit status once EXIT was sent. */
  async run(endpoint: Endpoint): Promise<number> {
    this.endpoint = endpoint;
    this.pump();
    const forwarded = Promise.all([
      this.forward(endpoint.stdout, FrameType.STDOUT),
      this.forward(endpoint.stderr, FrameType.STDERR),
    ]);
    this.onClosed(() => {
      // The caller is gone: stop the service and drop what it still had to say, so that a
      // paused stdout cannot keep the endpoint from finishing.
      endpoint.kill();
      endpoint.stdout.destroy();
      endpoint.stderr.destroy();
    });
    const status = await endpoint.done;
    await forwarded;
    this.finish(status);
    return status;
  }

  /** Sends an error message and an exit status without any endpoint. */
  fail(status: number, message: string): void {
    if (!this.closed) {
      for (const frame of encodeDataFrames(
        FrameType.STDERR,
        Buffer.from(message.endsWith('\n') ? message : message + '\n'),
      )) {
        this.socket.write(frame);
      }
    }
    this.finish(status);
  }

  private finish(status: number): void {
    if (this.closed) return;
    this.socket.end(encodeExit(status));
  }
}
