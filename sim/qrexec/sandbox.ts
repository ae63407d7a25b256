/**
 * Running a simulated VM's service under bubblewrap.
 *
 * What a sandboxed service sees:
 *  - read-only: /usr, /lib*, /bin, /sbin, the parts of /etc Node.js needs (ETC_ALLOWLIST), all
 *    the host's, standing in for the template's root; and the repository (the template "has Node.js and tmpl installed");
 *  - a fresh /proc, a minimal /dev, a private /tmp tmpfs of `tmpBytes` (bwrap `--size` before
 *    `--tmpfs`, bubblewrap >= 0.7);
 *  - its own qrexec socket directory at /run/qrexec-sim (calls it makes are attributed to its VM);
 *  - new user (uid 1000, no capabilities, no nested user namespaces), pid, ipc and uts
 *    namespaces, a new session (no TIOCSTI on the caller's terminal), and it dies with the daemon;
 *  - NOT: the simulator's state directory (if it lies inside the repository it is covered by an
 *    empty tmpfs), volumes, keys, the orchestrator's files, $HOME, the host's /tmp, /run, /var, the rest of /etc.
 * Network: the host's network namespace is shared, so services reach repositories served on the
 * host's 127.0.0.1 (the way tests and the demo serve them). That also means they can reach any
 * other loopback TCP service and abstract Unix sockets of the host; path sockets stay hidden.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const SANDBOX_QREXEC_DIR = '/run/qrexec-sim';

/** Entries of the host's /etc visible in the sandbox (name resolution, TLS roots, users, time zone). */
export const ETC_ALLOWLIST = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'ssl',
  'pki',
  'crypto-policies',
  'resolv.conf',
  'hosts',
  'host.conf',
  'nsswitch.conf',
  'gai.conf',
  'services',
  'protocols',
  'passwd',
  'group',
  'localtime',
  'timezone',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'os-release',
  'mime.types',
] as const;
const SANDBOX_UID = '1000';

export interface SandboxOptions {
  readonly repoRoot: string;
  /** Host paths to cover with an empty tmpfs when they lie inside a bound directory. */
  readonly hide: readonly string[];
  readonly tmpBytes: number;
  /** Extra read-only binds (e.g. a test's replacement service script). */
  readonly readOnlyBinds?: readonly string[];
  /** Host directory holding this call's qrexec socket, bound read-write at SANDBOX_QREXEC_DIR. */
  readonly qrexecDir?: string;
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * A checkout whose node_modules is a symlink to another checkout's (a git worktree): the target,
 * which the repository's bind alone would leave dangling inside the sandbox.
 */
function sharedNodeModules(repoRoot: string): string[] {
  const link = path.join(repoRoot, 'node_modules');
  try {
    if (!fs.lstatSync(link).isSymbolicLink()) return [];
    const target = fs.realpathSync(link);
    return isInside(target, repoRoot) ? [] : [target];
  } catch {
    return [];
  }
}

/** The bwrap arguments (without the program) that run `argv` in the sandbox. */
export function bubblewrapArgs(options: SandboxOptions, argv: readonly string[]): string[] {
  const args = [
    '--unshare-user',
    '--uid',
    SANDBOX_UID,
    '--gid',
    SANDBOX_UID,
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    'sim-vm',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(options.tmpBytes),
    '--tmpfs',
    '/tmp',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  // Only the parts of /etc a Node.js program needs: the sandbox's uid maps to the daemon's, so a
  // whole /etc would expose root-only files such as /etc/shadow to the service.
  for (const entry of ETC_ALLOWLIST) {
    if (fs.existsSync(path.join('/etc', entry)))
      args.push('--ro-bind', path.join('/etc', entry), path.join('/etc', entry));
  }
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(top);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(top), top);
    else if (stat.isDirectory()) args.push('--ro-bind', top, top);
  }
  const bound = [options.repoRoot, ...sharedNodeModules(options.repoRoot), ...(options.readOnlyBinds ?? [])];
  for (const source of bound) args.push('--ro-bind', source, source);
  for (const hidden of options.hide) {
    if (bound.some((dir) => isInside(hidden, dir)) || isInside(hidden, '/etc') || isInside(hidden, '/usr')) {
      args.push('--tmpfs', hidden);
    }
  }
  if (options.qrexecDir) args.push('--bind', options.qrexecDir, SANDBOX_QREXEC_DIR);
  args.push('--chdir', '/tmp', '--', ...argv);
  return args;
}

export interface BubblewrapProbe {
  readonly available: boolean;
  readonly path: string;
  /** Why the sandbox is unavailable (for the warning). */
  readonly reason: string;
}

/** Runs `bwrap ... true` once with the same options the services get, to learn whether it works. */
export function probeBubblewrap(repoRoot: string, bwrapPath = 'bwrap'): BubblewrapProbe {
  const result = spawnSync(
    bwrapPath,
    bubblewrapArgs({ repoRoot, hide: [], tmpBytes: 1024 * 1024 }, ['/bin/true']),
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (result.error) return { available: false, path: bwrapPath, reason: result.error.message };
  if (result.status !== 0) {
    return {
      available: false,
      path: bwrapPath,
      reason: (result.stderr || `exit status ${result.status}`).trim(),
    };
  }
  return { available: true, path: bwrapPath, reason: '' };
}
