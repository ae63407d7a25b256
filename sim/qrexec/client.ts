/**
 * The client half of the simulator's qrexec protocol, shared by sim/bin/qrexec-client-vm.mjs and
 * sim/bin/qrexec-client.mjs: sends HELLO, streams stdin as STDIN frames (STDIN_EOF at its end),
 * writes STDOUT/STDERR frames to stdout/stderr, and resolves with the EXIT status.
 *
 * Backpressure: stdin is paused while the socket's write buffer is full; the socket is paused
 * while stdout (or stderr) is full. Nothing else is buffered beyond one decoded socket chunk.
 */
import net from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { DAEMON_FRAMES, encodeDataFrames, encodeFrame, FrameDecoder, FrameType } from './frames.ts';
import type { Hello } from './hello.ts';

export const EXIT_PROBLEM = 125;

export interface ClientStreams {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** $TMPL_SIM_QREXEC_SOCKET, else $TMPL_SIM_DIR/qrexec.sock; null when neither is set. */
export function qrexecSocketFromEnv(env: NodeJS.ProcessEnv): string | null {
  if (env.TMPL_SIM_QREXEC_SOCKET) return env.TMPL_SIM_QREXEC_SOCKET;
  if (env.TMPL_SIM_DIR) return path.join(env.TMPL_SIM_DIR, 'qrexec.sock');
  return null;
}

/** Runs one call; resolves with the status the client must exit with. */
export function runQrexecCall(socketPath: string, hello: Hello, streams: ClientStreams): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    const decoder = new FrameDecoder(DAEMON_FRAMES);
    let status: number | null = null;
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      streams.stdin.pause();
      streams.stdin.removeListener('data', onStdin);
      socket.destroy();
      resolve(code);
    };
    const fail = (text: string): void => {
      streams.stderr.write(`${text}\n`);
      finish(EXIT_PROBLEM);
    };

    const onStdin = (chunk: Buffer): void => {
      let ok = true;
      for (const frame of encodeDataFrames(FrameType.STDIN, chunk)) ok = socket.write(frame) && ok;
      if (!ok) {
        streams.stdin.pause();
        socket.once('drain', () => streams.stdin.resume());
      }
    };

    socket.on('connect', () => {
      socket.write(encodeFrame(FrameType.HELLO, Buffer.from(JSON.stringify(hello))));
      streams.stdin.on('data', onStdin);
      streams.stdin.once('end', () => {
        if (!socket.destroyed) socket.write(encodeFrame(FrameType.STDIN_EOF));
      });
      streams.stdin.once('error', () => {
        if (!socket.destroyed) socket.write(encodeFrame(FrameType.STDIN_EOF));
      });
      streams.stdin.resume();
    });
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        fail(`qrexec: protocol error: ${(error as Error).message}`);
        return;
      }
      for (const frame of frames) {
        if (status !== null) {
          fail('qrexec: data after the exit status');
          return;
        }
        if (frame.type === FrameType.EXIT) {
          status = frame.payload.readInt32BE(0);
          continue;
        }
        const out = frame.type === FrameType.STDOUT ? streams.stdout : streams.stderr;
        if (!out.write(frame.payload)) {
          socket.pause();
          out.once('drain', () => socket.resume());
        }
      }
    });
    socket.on('error', (error) => {
      if (status === null)
        fail(`qrexec: cannot talk to the qrexec daemon at ${socketPath}: ${error.message}`);
    });
    socket.on('close', () => {
      if (status === null) fail('qrexec: connection to the qrexec daemon lost');
      else finish(status);
    });
  });
}
