/**
 * What a qrexec connection talks to once it is set up: a service process, qubesd's socket, or a
 * handler inside the daemon. All have a writable stdin (end() is the caller's EOF), readable
 * stdout/stderr, and a promise of the exit status that settles after stdout and stderr ended.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import net from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { constants } from 'node:os';

export interface Endpoint {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Exit status: the process's, or 128+signal; 125 when it could not be started. */
  readonly done: Promise<number>;
  /** Stops the endpoint at once (the whole process group of a service). */
  kill(): void;
}

function signalStatus(signal: NodeJS.Signals | null): number {
  const number = signal ? constants.signals[signal] : undefined;
  return number === undefined ? 125 : 128 + number;
}

/** A process in its own process group, so that kill() takes its children down too. */
export function spawnEndpoint(command: string, args: readonly string[], options: SpawnOptions): Endpoint {
  const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const stderrOut = new PassThrough();
  child.stderr.pipe(stderrOut);
  child.stdin.on('error', () => {
    // EPIPE once the service stopped reading; its exit status tells the story.
  });
  const done = new Promise<number>((resolve) => {
    child.once('error', (error) => {
      stderrOut.end(`cannot start ${command}: ${error.message}\n`);
      resolve(125);
    });
    child.once('close', (code, signal) => resolve(code ?? signalStatus(signal)));
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: stderrOut,
    done,
    kill() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

/** A connection to qubesd: stdin is the request, stdout the reply (qubesd-query's behaviour). */
export function adminSocketEndpoint(socketPath: string, header: Buffer): Endpoint {
  const socket = net.createConnection(socketPath);
  const stderr = new PassThrough();
  socket.write(header);
  const done = new Promise<number>((resolve) => {
    socket.once('error', (error) => {
      stderr.end(`connect to qubesd: ${error.message}\n`);
      resolve(1);
    });
    socket.once('close', (hadError) => {
      if (!hadError) {
        stderr.end();
        resolve(0);
      }
    });
  });
  return { stdin: socket, stdout: socket, stderr, done, kill: () => socket.destroy() };
}

/**
 * A handler that runs inside the daemon: it gets the caller's stdin (bounded by `maxInput`) and
 * returns the exit status, writing to stdout/stderr as it likes.
 */
export function inProcessEndpoint(
  maxInput: number,
  handler: (input: Buffer, stdout: PassThrough, stderr: PassThrough) => Promise<number>,
): Endpoint {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  let total = 0;
  let killed = false;
  const done = new Promise<number>((resolve) => {
    stdin.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= maxInput) chunks.push(chunk);
    });
    stdin.on('end', () => {
      const finish = (status: number): void => {
        stdout.end();
        stderr.end();
        resolve(killed ? 137 : status);
      };
      if (total > maxInput) {
        stderr.write(`input larger than ${maxInput} bytes\n`);
        finish(1);
        return;
      }
      handler(Buffer.concat(chunks), stdout, stderr).then(finish, (error: unknown) => {
        stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        finish(1);
      });
    });
  });
  return {
    stdin,
    stdout,
    stderr,
    done,
    kill() {
      killed = true;
      stdin.end();
    },
  };
}

/** A failure reported to the caller: a message on stderr and an exit status. */
export function failureEndpoint(status: number, message: string): Endpoint {
  const stdin = new PassThrough();
  stdin.resume();
  const stdout = new PassThrough();
  stdout.end();
  const stderr = new PassThrough();
  stderr.end(message.endsWith('\n') ? message : message + '\n');
  return { stdin, stdout, stderr, done: Promise.resolve(status), kill: () => stdin.destroy() };
}
