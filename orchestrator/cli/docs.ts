/**
 * The man pages tmpl(1) and tmpl-install(1) and the bash completion, generated from the same
 * tables as `--help` (GLOBAL_OPTIONS and each command's summary, usage and options), so that
 * none of them can list an option the others lack. scripts/build.mjs writes them to dist/man and
 * dist/completion; test/orchestrator/cli/docs.test.ts compares them with `--help`.
 *
 * The bash completion is generated in bash-completion.ts.
 *
 * Roff follows man(7) and groff_man(7): `\-` for a minus a reader types, `\e` for a backslash,
 * `\&` before a line that would start with a control character.
 */
import type { OptionSpec } from './arguments.ts';
import { PROGRAM_DESCRIPTION } from './main.ts';
import { DEFAULT_REPO_FILES_GLOB } from '../repos/repo-config.ts';
import { cliTables, commandUsage, type DocsTables } from './docs-tables.ts';

export { cliTables, type DocsTables } from './docs-tables.ts';
export { bashCompletion } from './bash-completion.ts';

export type ManPageKind = 'tmpl' | 'tmpl-install';

/** The exit statuses (main.ts exitCodeFor; README "Exit status"). */
export const EXIT_STATUSES: readonly { readonly status: string; readonly meaning: string }[] = [
  {
    status: '0',
    meaning:
      'Success, including a template that is already installed (status already-installed) and nothing to upgrade (skipped).',
  },
  {
    status: '1',
    meaning:
      'A failure: verification, the worker, Qubes, a pool without room, a refused rollback, metadata too old, a name taken by another VM, the operation lock held, a question answered no or not asked (cancelled).',
  },
  {
    status: '2',
    meaning:
      'A usage error (usage), a template or VM that does not exist (template.not-found), no Admin API (qubes.no-admin-api).',
  },
  {
    status: '129, 130, 143',
    meaning:
      'Interrupted (interrupted) by SIGHUP, SIGINT or SIGTERM: 128 plus the signal number. The disposable is killed, a template created by the run removed and the lock released first.',
  },
];

/** The environment variables tmpl reads (README "Environment"). */
export const ENVIRONMENT: readonly { readonly names: readonly string[]; readonly meaning: string }[] = [
  {
    names: [
      'TMPL_QUBESD_SOCKET',
      'TMPL_QREXEC_CLIENT',
      'TMPL_QREXEC_CLIENT_VM',
      'TMPL_QREXEC_SERVICES_DIR',
      'TMPL_QUBESDB_READ',
      'TMPL_MODE',
    ],
    meaning: 'Where the Admin API and qrexec are (for the simulator and development).',
  },
  {
    names: ['TMPL_LOCK_FILE'],
    meaning: 'The operation lock (default /run/qubes/qvm-template.lock, else $XDG_RUNTIME_DIR/tmpl.lock).',
  },
  {
    names: ['TMPL_STATE_DIR'],
    meaning:
      "Rollback-protection state: templates' floors and repositories' newest metadata (default /var/lib/tmpl).",
  },
  {
    names: ['TMPL_RELEASEVER'],
    meaning: 'The Qubes release when neither --releasever nor the system tells it.',
  },
  {
    names: ['TMPL_LOG_LEVEL'],
    meaning: 'The log level on standard error (default warn; -v info, -vv debug, -q error).',
  },
  {
    names: ['TMPL_WORKER_IDLE_TIMEOUT_MS'],
    meaning:
      'Give up on a worker that has not moved the transfer forward for this many milliseconds (default 120000): worker.timeout.',
  },
  {
    names: ['TMPL_WORKER_PROGRESS_WINDOW_MS', 'TMPL_WORKER_PROGRESS_MIN_BYTES'],
    meaning:
      'Once the files began, each window of this many milliseconds must bring this many bytes of file data (defaults 60000 and 1048576): worker.too-slow.',
  },
  {
    names: ['TMPL_WORKER_DEADLINE_BASE_MS', 'TMPL_WORKER_MIN_RATE'],
    meaning:
      'The whole transfer must end within this many milliseconds plus the signed file bytes at this rate in bytes per second (defaults 600000 and 65536): worker.deadline.',
  },
  { names: ['TMPL_RPM_DBPATH'], meaning: 'The rpm database that migrate-from-rpmdb reads.' },
  { names: ['TMPL_DEBUG'], meaning: 'Print the stack of an internal error.' },
];

const FILES: readonly { readonly path: string; readonly meaning: string }[] = [
  { path: DEFAULT_REPO_FILES_GLOB, meaning: 'Template repository definitions (--repo-files).' },
  {
    path: '/etc/qubes/repo-templates/keys/',
    meaning: 'The keys that repository definitions name with a file:// gpgkey.',
  },
  {
    path: '/run/qubes/qvm-template.lock',
    meaning: 'The operation lock, shared with qvm-template.',
  },
  { path: '/var/lib/tmpl', meaning: 'Rollback-protection state.' },
];

// ---- roff ----

/** Text for a roff line: backslashes and minus signs escaped, no control character first. */
function roff(text: string): string {
  const escaped = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

function bold(text: string): string {
  return `\\fB${roff(text)}\\fR`;
}

function italic(text: string): string {
  return `\\fI${roff(text)}\\fR`;
}

/** `\fB\-y\fR, \fB\-\-yes\fR`, `\fB\-\-pool\fR \fIPOOL\fR`, `\fB\-\-dispvm\fR[=\fIDISPVM\fR]`. */
function optionHeading(spec: OptionSpec): string {
  const long = bold(`--${spec.name}`);
  const metavar = spec.metavar ?? 'VALUE';
  const value =
    spec.kind === 'value' ? ` ${italic(metavar)}` : spec.kind === 'optional' ? `[=${italic(metavar)}]` : '';
  return `${spec.short ? `${bold(`-${spec.short}`)}, ` : ''}${long}${value}`;
}

function optionItems(specs: readonly OptionSpec[]): string[] {
  return specs.flatMap((spec) => [
    '.TP',
    optionHeading(spec),
    roff(`${capitalize(spec.help)}.${spec.repeat ? ' May be given more than once.' : ''}`),
  ]);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A usage line with the words to type (`tmpl install`, `tmpl-install`) in bold. */
function usageLine(usage: string): string {
  const program = /^tmpl(?:-install| [a-z-]+)?/.exec(usage)?.[0] ?? '';
  return `${program ? bold(program) : ''}${roff(usage.slice(program.length))}`;
}

function commonSections(seeAlso: string): string[] {
  return [
    '.SH "EXIT STATUS"',
    ...EXIT_STATUSES.flatMap((e) => ['.TP', bold(e.status), roff(e.meaning)]),
    '.SH ENVIRONMENT',
    ...ENVIRONMENT.flatMap((e) => ['.TP', e.names.map((n) => bold(n)).join(', '), roff(e.meaning)]),
    '.SH FILES',
    ...FILES.flatMap((f) => ['.TP', italic(f.path), roff(f.meaning)]),
    '.SH "SEE ALSO"',
    seeAlso,
  ];
}

/** The man page of `tmpl` (every command with its options) or of `tmpl-install`. */
export function manPage(kind: ManPageKind, tables: DocsTables = cliTables()): string {
  const header = [
    `.\\" Generated from tmpl's option tables (orchestrator/cli/docs.ts); do not edit.`,
    `.TH ${kind.toUpperCase()} 1 "" "tmpl ${roff(tables.version)}" "User Commands"`,
    // Left-aligned and unhyphenated: usage lines and option names must read as typed.
    '.ad l',
    '.nh',
  ];
  const lines = kind === 'tmpl' ? tmplPage(tables) : installPage(tables);
  return [...header, ...lines].join('\n') + '\n';
}

function tmplPage(tables: DocsTables): string[] {
  return [
    '.SH NAME',
    'tmpl \\- manage Qubes OS templates, verified outside a disposable VM',
    '.SH SYNOPSIS',
    `${bold('tmpl')} [${italic('OPTIONS')}] ${italic('COMMAND')} [${italic('OPTIONS')}] [${italic('ARGS')}...]`,
    '.SH DESCRIPTION',
    roff(PROGRAM_DESCRIPTION.join(' ')),
    '.PP',
    roff(
      "tmpl takes qvm-template's command line: global options may stand before or after the command, " +
        '--opt VALUE and --opt=VALUE are the same, short flags bundle (-yq), and -- ends the options.',
    ),
    '.SH COMMANDS',
    ...tables.commands.flatMap((command) => [
      `.SS ${command.name.replace(/-/g, '\\-')}`,
      usageLine(commandUsage(command)),
      '.PP',
      roff(`${capitalize(command.summary)}.`),
      ...((command.options ?? []).length > 0
        ? optionItems(command.options ?? [])
        : ['.PP', roff('No options besides the global ones.')]),
    ]),
    '.SH OPTIONS',
    roff('Global options, accepted by every command:'),
    ...optionItems(tables.globalOptions),
    ...commonSections(`${bold('tmpl-install')}(1), ${bold('qvm-template')}(1), ${bold('rpmkeys')}(8)`),
  ];
}

function installPage(tables: DocsTables): string[] {
  const install = tables.commands.find((c) => c.name === 'install');
  if (!install) throw new Error('the command table has no install command');
  return [
    '.SH NAME',
    `tmpl\\-install \\- ${roff(install.summary)}`,
    '.SH SYNOPSIS',
    usageLine(commandUsage(install).replace(/^tmpl install\b/, 'tmpl-install')),
    '.SH DESCRIPTION',
    `${bold('tmpl-install')} is ${bold('tmpl install')}: ${roff(`${install.summary}.`)}`,
    '.PP',
    roff(PROGRAM_DESCRIPTION.join(' ')),
    '.SH OPTIONS',
    ...optionItems(install.options ?? []),
    '.SS "Global options"',
    ...optionItems(tables.globalOptions),
    ...commonSections(`${bold('tmpl')}(1), ${bold('qvm-template')}(1)`),
  ];
}
