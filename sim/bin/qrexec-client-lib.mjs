// The client half of the simulator's qrexec protocol (see sim/qrexec/frames.ts for the framing
// and sim/qrexec/hello.ts for the request), in plain JavaScript so that a client starts as fast
// as node itself: clients run once per Admin API call from a management VM.
//
// Frames: type (1) | big-endian length (4) | payload. Client sends HELLO, STDIN*, STDIN_EOF;
// the daemon sends STDOUT/STDERR interleaved, then EXIT (4-byte big-endian status).
// Backpressure: stdin pauses while the socket's write buffer is full; the socket pauses while
// stdout or stderr is full. Buffered: one socket chunk plus one incomplete frame.
import net from 'node:net';
import path from 'node:path';

const HEADER = 5;
const MAX_DATA = 64 * 1024;
const MAX_TEXT = 4 * 1024;
const HELLO = 1;
const STDIN = 2;
const STDIN_EOF = 3;
const STDOUT = 4;
const STDERR = 5;
const EXIT = 6;
const MAX_PAYLOAD = new Map([
  [STDOUT, MAX_DATA],
  [STDERR, MAX_DATA],
  [EXIT, 4],
]);
export const EXIT_PROBLEM = 125;

function frame(type, payload = Buffer.alloc(0)) {
  const header = Buffer.alloc(HEADER);
  header[0] = type;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** $TMPL_SIM_QREXEC_SOCKET, else $TMPL_SIM_DIR/qrexec.sock, else null. */
export function qrexecSocketFromEnv(env) {
  if (env.TMPL_SIM_QREXEC_SOCKET) return env.TMPL_SIM_QREXEC_SOCKET;
  if (env.TMPL_SIM_DIR) return path.join(env.TMPL_SIM_DIR, 'qrexec.sock');
  return null;
}

/** Runs one call; resolves with the status the client exits with. */
export function runQrexecCall(socketPath, hello, streams) {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    let pending = Buffer.alloc(0);
    let status = null;
    let settled = false;
    const finish = (code) => {
      if (settled) return;
      settled = true;
      streams.stdin.pause();
      streams.stdin.removeListener('data', onStdin);
      socket.destroy();
      resolve(code);
    };
    const fail = (text) => {
      streams.stderr.write(`${text}\n`);
      finish(EXIT_PROBLEM);
    };
    const onStdin = (chunk) => {
      let ok = true;
      for (let offset = 0; offset < chunk.length; offset += MAX_DATA) {
        ok = socket.write(frame(STDIN, chunk.subarray(offset, offset + MAX_DATA))) && ok;
      }
      if (!ok) {
        streams.stdin.pause();
        socket.once('drain', () => streams.stdin.resume());
      }
    };
    const sendEof = () => {
      if (!socket.destroyed) socket.write(frame(STDIN_EOF));
    };
    // A reader that went away (`| head`): stop the call, as qrexec-client-vm does on EPIPE.
    for (const out of [streams.stdout, streams.stderr]) out.on('error', () => finish(status ?? EXIT_PROBLEM));
    const helloBytes = Buffer.from(JSON.stringify(hello));
    if (helloBytes.length > MAX_TEXT) {
      fail('qrexec: request too long');
      return;
    }
    socket.on('connect', () => {
      socket.write(frame(HELLO, helloBytes));
      streams.stdin.on('data', onStdin);
      streams.stdin.once('end', sendEof);
      streams.stdin.once('error', sendEof);
      streams.stdin.resume();
    });
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= HEADER) {
        const type = pending[0];
        const length = pending.readUInt32BE(1);
        const max = MAX_PAYLOAD.get(type);
        if (max === undefined || length > max || status !== null) {
          fail(`qrexec: protocol error (frame type ${type}, ${length} bytes)`);
          return;
        }
        if (pending.length < HEADER + length) break;
        const payload = pending.subarray(HEADER, HEADER + length);
        pending = pending.subarray(HEADER + length);
        if (type === EXIT) {
          if (length !== 4) return fail('qrexec: protocol error (bad exit frame)');
          status = payload.readInt32BE(0);
          continue;
        }
        const out = type === STDOUT ? streams.stdout : streams.stderr;
        if (!out.write(payload)) {
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

/** `qrexec-client-vm [--buffer-size=N] TARGET SERVICE[+ARG]`; the caller is $TMPL_SIM_SOURCE_VM (default mgmt). */
export async function qrexecClientVmMain(argv, env, streams) {
  const positional = argv.filter((arg) => !arg.startsWith('--buffer-size='));
  if (positional.length !== 2) {
    // A local program after SERVICE is a real option the simulator has no use for.
    streams.stderr.write('usage: qrexec-client-vm [--buffer-size=BUFFER_SIZE] target_vmname service\n');
    return 2;
  }
  const [target, service] = positional;
  const socketPath = qrexecSocketFromEnv(env);
  if (socketPath === null) {
    streams.stderr.write('qrexec-client-vm: set TMPL_SIM_DIR or TMPL_SIM_QREXEC_SOCKET\n');
    return EXIT_PROBLEM;
  }
  const source = env.TMPL_SIM_SOURCE_VM || 'mgmt';
  return runQrexecCall(socketPath, { v: 1, kind: 'call', target, service, source }, streams);
}

function parseDom0Args(argv) {
  const args = { domain: undefined, timeout: 10, exitCode: true, kill: false, command: undefined };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg === '-d') args.domain = argv[++i];
    else if (arg === '-w') {
      const text = argv[++i];
      if (text === undefined || !/^[0-9]+$/.test(text)) return `invalid connection timeout '${text ?? ''}'`;
      args.timeout = Number(text);
    } else if (arg === '-E' || arg === '--no-exit-code') args.exitCode = false;
    else if (arg === '-k') args.kill = true;
    else return `option ${arg} is not supported by the simulator`;
  }
  if (!args.domain || i !== argv.length - 1)
    return 'usage: qrexec-client [options] -d domain_name user:remote_cmdline';
  args.command = argv[i];
  return args;
}

function adminKill(socketPath, vm) {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.on('connect', () => socket.end(`admin.vm.Kill+ dom0 name ${vm}\0`));
    socket.on('data', () => undefined);
    socket.on('error', resolve);
    socket.on('close', resolve);
  });
}

/** `qrexec-client -d DOMAIN [-w TIMEOUT] [-E] [-k] "USER:QUBESRPC SERVICE[+ARG] SOURCE"` (dom0: no policy). */
export async function qrexecClientMain(argv, env, streams) {
  const args = parseDom0Args(argv);
  if (typeof args === 'string') {
    streams.stderr.write(`qrexec-client: ${args}\n`);
    return 2;
  }
  const colon = args.command.indexOf(':');
  const words = colon > 0 ? args.command.slice(colon + 1).split(' ') : [];
  if (words.length !== 3 || words[0] !== 'QUBESRPC' || !words[1] || !words[2]) {
    streams.stderr.write(
      `qrexec-client: only "USER:QUBESRPC SERVICE+ARG SOURCE" commands are simulated, got '${args.command}'\n`,
    );
    return EXIT_PROBLEM;
  }
  const socketPath = qrexecSocketFromEnv(env);
  if (socketPath === null) {
    streams.stderr.write('qrexec-client: set TMPL_SIM_DIR or TMPL_SIM_QREXEC_SOCKET\n');
    return EXIT_PROBLEM;
  }
  const hello = {
    v: 1,
    kind: 'exec',
    domain: args.domain,
    source: words[2],
    service: words[1],
    timeoutSeconds: args.timeout,
  };
  const status = await runQrexecCall(socketPath, hello, streams);
  // -k: "kill the domain right before exiting", through qubesd as the real client does.
  if (args.kill && env.TMPL_QUBESD_SOCKET) await adminKill(env.TMPL_QUBESD_SOCKET, args.domain);
  return args.exitCode ? status : 0;
}
