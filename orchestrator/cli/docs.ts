/**
 * The man pages tmpl(1) and tmpl-install(1) and the bash completion, generated from the same
 * tables as `--help` (GLOBAL_OPTIONS and each command's summary, usage and options), so that
 * none of them can list an option the others lack. scripts/build.mjs writes them to dist/man and
 * dist/completion; test/orchestrator/cli/docs.test.ts compares them with `--help`.
 *
 * Roff follows man(7) and groff_man(7): `\-` for a minus a reader types, `\e` for a backslash,
 * `\&` before a line that would start with a control character.
 */
import type { OptionSpec } from './arguments.ts';
import { GLOBAL_OPTIONS } from './arguments.ts';
import { PROGRAM_DESCRIPTION } from './main.ts';
import { commands as COMMANDS } from './commands/index.ts';
import type { Command } from './commands/types.ts';
import { DEFAULT_REPO_FILES_GLOB } from '../repos/repo-config.ts';
import { tmplVersion } from './version.ts';

export type ManPageKind = 'tmpl' | 'tmpl-install';

/** What the generators read: the command and option tables, and the version to print. */
export interface DocsTables {
  readonly commands: readonly Pick<Command, 'name' | 'summary' | 'usage' | 'options'>[];
  readonly globalOptions: readonly OptionSpec[];
  readonly version: string;
}

export function cliTables(): DocsTables {
  return { commands: COMMANDS, globalOptions: GLOBAL_OPTIONS, version: tmplVersion() };
}

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

function commandUsage(command: DocsTables['commands'][number]): string {
  return command.usage ?? `tmpl ${command.name} [OPTIONS]`;
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

// ---- bash completion ----

/** A bash word: only the characters option names, metavars and command names use. */
function word(text: string): string {
  if (!/^[A-Za-z0-9_.=-]+$/.test(text)) throw new Error(`not a plain word for the completion: ${text}`);
  return text;
}

/** How the value of an option completes, from its metavar. */
function valueCompletion(spec: OptionSpec): string {
  const metavar = spec.metavar ?? '';
  if (metavar === 'FILE') return '_tmpl_files file "$cur"';
  if (metavar === 'DIR') return '_tmpl_files dir "$cur"';
  if (metavar.includes('|')) return `_tmpl_words '${metavar.split('|').map(word).join(' ')}' "$cur"`;
  return 'COMPREPLY=()';
}

function optionWords(specs: readonly OptionSpec[]): string {
  return specs.flatMap((s) => [...(s.short ? [`-${word(s.short)}`] : []), `--${word(s.name)}`]).join(' ');
}

/**
 * The completion script for tmpl and tmpl-install: commands, each command's options and the
 * global ones, and the values of options whose metavar says what they take.
 */
export function bashCompletion(tables: DocsTables = cliTables()): string {
  const withOptions = tables.commands.map((c) => ({ name: word(c.name), options: c.options ?? [] }));
  // `case "$command:$option"`: global options first, as the parser (arguments.ts) looks them up.
  const valueCases: string[] = [];
  const addCases = (scope: string, specs: readonly OptionSpec[]): void => {
    for (const spec of specs) {
      if (spec.kind === 'flag') continue;
      const patterns = [`--${word(spec.name)}`, ...(spec.short ? [`-${word(spec.short)}`] : [])].map(
        (p) => `${scope}:${p}`,
      );
      const guard = spec.kind === 'optional' ? '[[ $separate == 1 ]] && return 1; ' : '';
      valueCases.push(`    ${patterns.join('|')}) ${guard}${valueCompletion(spec)} ;;`);
    }
  };
  addCases('*', tables.globalOptions);
  for (const c of withOptions) addCases(c.name, c.options);
  const commandOptions = withOptions
    .filter((c) => c.options.length > 0)
    .map((c) => `    ${c.name}) words+=' ${optionWords(c.options)}' ;;`);
  const takesFiles = tables.commands.filter((c) => /\.rpm\b/.test(commandUsage(c))).map((c) => word(c.name));
  return `# bash completion for tmpl and tmpl-install (tmpl ${tables.version}).
# Generated from tmpl's option tables (orchestrator/cli/docs.ts); do not edit.

_tmpl_files() {
  # $1: file or dir; $2: the word so far.
  compopt -o filenames 2>/dev/null
  if [[ $1 == dir ]]; then
    mapfile -t COMPREPLY < <(compgen -d -- "$2")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$2")
  fi
}

_tmpl_words() {
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# Completes the value of option $2 of command $1 (may be empty) into COMPREPLY; returns 1 when
# the option takes no value. $3 is 1 when the value is a separate word (--opt VALUE), which an
# option whose value is optional (--opt[=VALUE]) never takes.
_tmpl_option_value() {
  local command=$1 option=$2 separate=$3
  case "$command:$option" in
${valueCases.join('\n')}
    *) return 1 ;;
  esac
  return 0
}

_tmpl_option_words() {
  local words='${optionWords(tables.globalOptions)}'
  case $1 in
${commandOptions.join('\n')}
  esac
  printf '%s' "$words"
}

# $1: the command when the program fixes it (tmpl-install), else empty.
_tmpl_complete() {
  local command=$1 cur=\${COMP_WORDS[COMP_CWORD]} option='' prefix='' only_args=0 i=1 word
  COMPREPLY=()
  # The command: the first word that is neither an option nor an option's value.
  while ((i < COMP_CWORD)); do
    word=\${COMP_WORDS[i]}
    if [[ \${COMP_WORDS[i + 1]-} == = ]]; then
      # --opt=VALUE, split into three words at the '=' of COMP_WORDBREAKS.
      ((i += 3))
      continue
    fi
    if ((only_args == 0)) && [[ $word == -- ]]; then
      only_args=1
    elif ((only_args == 0)) && [[ $word == -* ]]; then
      [[ $word != *=* ]] && _tmpl_option_value "$command" "$word" 1 && ((i++))
    elif [[ -z $command ]]; then
      command=$word
    fi
    ((i++))
  done
  COMPREPLY=()
  if ((only_args == 0)); then
    if [[ $cur == = && $COMP_CWORD -ge 2 ]]; then
      option=\${COMP_WORDS[COMP_CWORD - 1]}
      cur=''
    elif ((COMP_CWORD >= 3)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then
      option=\${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
      option=\${cur%%=*}
      prefix="$option="
      cur=\${cur#*=}
    fi
    if [[ -n $option ]]; then
      _tmpl_option_value "$command" "$option" 0 || COMPREPLY=()
      if [[ -n $prefix ]]; then COMPREPLY=("\${COMPREPLY[@]/#/$prefix}"); fi
      return 0
    fi
    if ((COMP_CWORD >= 2)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == -* && \${COMP_WORDS[COMP_CWORD - 1]} != *=* ]]; then
      _tmpl_option_value "$command" "\${COMP_WORDS[COMP_CWORD - 1]}" 1 && return 0
    fi
    if [[ $cur == -* ]]; then
      _tmpl_words "$(_tmpl_option_words "$command")" "$cur"
      return 0
    fi
  fi
  if [[ -z $command ]]; then
    _tmpl_words '${withOptions.map((c) => c.name).join(' ')}' "$cur"
    return 0
  fi
  case $command in
    ${takesFiles.length > 0 ? `${takesFiles.join('|')}) _tmpl_files file "$cur" ;;` : ''}
  esac
  return 0
}

_tmpl() {
  _tmpl_complete ''
}

_tmpl_install() {
  _tmpl_complete install
}

complete -F _tmpl tmpl
complete -F _tmpl_install tmpl-install
`;
}
