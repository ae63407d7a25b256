/**
 * Command lines of the simulator's qrexec clients, compatible with the real ones:
 *   qrexec-client-vm [--buffer-size=N] TARGET SERVICE[+ARG]
 *     (the calling VM is $TMPL_SIM_SOURCE_VM, default `mgmt`)
 *   qrexec-client -d DOMAIN [-w TIMEOUT] [-E] [-k] "USER:QUBESRPC SERVICE[+ARG] SOURCE"
 * Socket: $TMPL_SIM_QREXEC_SOCKET, else $TMPL_SIM_DIR/qrexec.sock.
 * The library never exits the process: main functions return the status.
 */
import { adminCall } from './admin-call.ts';
import { EXIT_PROBLEM, qrexecSocketFromEnv, runQrexecCall, type ClientStreams } from './client.ts';
import type { Hello } from './hello.ts';

function usage(streams: ClientStreams, text: string): number {
  streams.stderr.write(text);
  return 2;
}

export async function qrexecClientVmMain(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  streams: ClientStreams,
): Promise<number> {
  const positional = argv.filter((arg) => !arg.startsWith('--buffer-size='));
  if (positional.length !== 2) {
    // A local program after SERVICE is a real option we have no use for in the simulator.
    return usage(streams, 'usage: qrexec-client-vm [--buffer-size=BUFFER_SIZE] target_vmname service\n');
  }
  const [target, service] = positional as [string, string];
  const socketPath = qrexecSocketFromEnv(env);
  if (socketPath === null) {
    streams.stderr.write('qrexec-client-vm: set TMPL_SIM_DIR or TMPL_SIM_QREXEC_SOCKET\n');
    return EXIT_PROBLEM;
  }
  const source = env.TMPL_SIM_SOURCE_VM || 'mgmt';
  const hello: Hello = { v: 1, kind: 'call', target, service, source };
  const status = await runQrexecCall(socketPath, hello, streams);
  return status;
}

interface Dom0Args {
  domain: string;
  timeout: number;
  exitCode: boolean;
  kill: boolean;
  command: string;
}

function parseDom0Args(argv: readonly string[]): Dom0Args | string {
  const args: Partial<Dom0Args> = { timeout: 10, exitCode: true, kill: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg === '--') {
      i++;
      break;
    }
    const value = (): string | undefined => argv[++i];
    switch (arg) {
      case '-d':
        args.domain = value();
        break;
      case '-w': {
        const text = value();
        if (text === undefined || !/^[0-9]+$/.test(text)) return `invalid connection timeout '${text ?? ''}'`;
        args.timeout = Number(text);
        break;
      }
      case '-E':
      case '--no-exit-code':
        args.exitCode = false;
        break;
      case '-k':
        args.kill = true;
        break;
      default:
        return `option ${arg} is not supported by the simulator`;
    }
  }
  if (!args.domain || i !== argv.length - 1)
    return 'usage: qrexec-client [options] -d domain_name user:remote_cmdline';
  args.command = argv[i]!;
  return args as Dom0Args;
}

/** `USER:QUBESRPC SERVICE+ARG SOURCE` -> service and source (only RPC commands are simulated). */
function parseRemoteCommand(command: string): { service: string; source: string } | string {
  const colon = command.indexOf(':');
  if (colon <= 0) return `invalid command '${command}': expected USER:QUBESRPC SERVICE SOURCE`;
  const words = command.slice(colon + 1).split(' ');
  if (words[0] !== 'QUBESRPC' || words.length !== 3 || !words[1] || !words[2]) {
    return `only "USER:QUBESRPC SERVICE+ARG SOURCE" commands are simulated, got '${command}'`;
  }
  return { service: words[1], source: words[2] };
}

export async function qrexecClientMain(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  streams: ClientStreams,
): Promise<number> {
  const args = parseDom0Args(argv);
  if (typeof args === 'string') return usage(streams, `qrexec-client: ${args}\n`);
  const command = parseRemoteCommand(args.command);
  if (typeof command === 'string') {
    streams.stderr.write(`qrexec-client: ${command}\n`);
    return EXIT_PROBLEM;
  }
  const socketPath = qrexecSocketFromEnv(env);
  if (socketPath === null) {
    streams.stderr.write('qrexec-client: set TMPL_SIM_DIR or TMPL_SIM_QREXEC_SOCKET\n');
    return EXIT_PROBLEM;
  }
  const hello: Hello = {
    v: 1,
    kind: 'exec',
    domain: args.domain,
    source: command.source,
    service: command.service,
    timeoutSeconds: args.timeout,
  };
  const status = await runQrexecCall(socketPath, hello, streams);
  if (args.kill) {
    // -k: "kill the domain right before exiting", through qubesd as the real client does.
    const qubesd = env.TMPL_QUBESD_SOCKET;
    if (qubesd)
      await adminCall({ socketPath: qubesd, method: 'admin.vm.Kill', dest: args.domain }).catch(
        () => undefined,
      );
  }
  return args.exitCode ? status : 0;
}
