/**
 * qvm-template's command line: global options may stand before or after the subcommand; the
 * repository selectors --enablerepo/--disablerepo/--repoid keep their order (dnf applies them in
 * sequence). Parsed without a library because argparse's exact behaviour matters here: `--opt=v`
 * and `--opt v`, repeated options, and `--` ending the options.
 */
import { OrchestratorError } from '../errors.ts';

export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  /** 'flag': no value; 'value': required; 'optional': `--opt` or `--opt=VALUE` only. */
  readonly kind: 'flag' | 'value' | 'optional';
  readonly repeat?: boolean;
  readonly help: string;
  readonly metavar?: string;
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'repo-files',
    kind: 'value',
    repeat: true,
    metavar: 'FILE',
    help: 'repository files (default /etc/qubes/repo-templates/*.repo)',
  },
  {
    name: 'keyring',
    kind: 'value',
    repeat: true,
    metavar: 'FILE',
    help: 'keys for local packages and repositories without a file:// gpgkey',
  },
  {
    name: 'updatevm',
    kind: 'optional',
    metavar: 'VM',
    help: 'run the worker in this VM instead of a disposable (default: the global updatevm)',
  },
  {
    name: 'dispvm',
    kind: 'optional',
    metavar: 'DISPVM',
    help: 'run the worker in a new disposable of DISPVM (the default; default_dispvm when empty)',
  },
  { name: 'local-worker', kind: 'flag', help: 'development: run the worker as a sandboxed local process' },
  { name: 'enablerepo', kind: 'value', repeat: true, metavar: 'REPOID', help: 'enable repositories (globs)' },
  {
    name: 'disablerepo',
    kind: 'value',
    repeat: true,
    metavar: 'REPOID',
    help: 'disable repositories (globs)',
  },
  {
    name: 'repoid',
    kind: 'value',
    repeat: true,
    metavar: 'REPOID',
    help: 'use only these repositories (globs)',
  },
  { name: 'releasever', kind: 'value', metavar: 'RELEASE', help: "Qubes release (default: this system's)" },
  { name: 'refresh', kind: 'flag', help: 'refresh repository metadata' },
  { name: 'cachedir', kind: 'value', metavar: 'DIR', help: 'cache directory' },
  { name: 'keep-cache', kind: 'flag', help: 'keep downloaded packages' },
  { name: 'yes', short: 'y', kind: 'flag', help: 'assume yes to every question' },
  { name: 'verbose', short: 'v', kind: 'flag', repeat: true, help: 'more output' },
  { name: 'quiet', short: 'q', kind: 'flag', repeat: true, help: 'less output' },
  { name: 'json', kind: 'flag', help: 'print the result, or the error, as one JSON object' },
  {
    name: 'progress',
    kind: 'value',
    metavar: 'bar|json|none',
    help: 'progress display (default: bar on a terminal)',
  },
  { name: 'help', short: 'h', kind: 'flag', help: 'show help' },
  { name: 'version', kind: 'flag', help: "print tmpl's version and exit" },
];

export interface ParsedArgs {
  readonly command: string | undefined;
  /** Option name → values in order (flags: 'true' per occurrence). */
  readonly options: ReadonlyMap<string, readonly string[]>;
  /** Every repository selector in command-line order. */
  readonly repoSelectors: readonly {
    readonly kind: 'enablerepo' | 'disablerepo' | 'repoid';
    readonly pattern: string;
  }[];
  readonly positionals: readonly string[];
}

/**
 * argparse does not take a word that looks like an option as a separate option value
 * (`--pool --yes` is "expected one argument"); `--opt=-x` still passes one.
 */
function looksLikeOption(word: string): boolean {
  return word.startsWith('-') && word !== '-' && !/^-\d/.test(word);
}

export function parseArgs(
  argv: readonly string[],
  commandOptions: (command: string) => readonly OptionSpec[] | undefined,
): ParsedArgs {
  const options = new Map<string, string[]>();
  const repoSelectors: { kind: 'enablerepo' | 'disablerepo' | 'repoid'; pattern: string }[] = [];
  const positionals: string[] = [];
  let command: string | undefined;
  let specs: readonly OptionSpec[] = GLOBAL_OPTIONS;
  let onlyPositionals = false;
  const add = (spec: OptionSpec, value: string): void => {
    const list = options.get(spec.name) ?? [];
    if (list.length > 0 && !spec.repeat && spec.kind !== 'flag') list.length = 0;
    list.push(value);
    options.set(spec.name, list);
    if (spec.name === 'enablerepo' || spec.name === 'disablerepo' || spec.name === 'repoid') {
      for (const pattern of value.split(',').filter((p) => p !== ''))
        repoSelectors.push({ kind: spec.name, pattern });
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      if (command === undefined) {
        command = arg;
        const extra = commandOptions(arg);
        if (extra) specs = [...GLOBAL_OPTIONS, ...extra];
      } else {
        positionals.push(arg);
      }
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = specs.find((s) => s.name === name);
      if (!spec) throw new OrchestratorError('usage', `unrecognized option '--${name}'`);
      if (spec.kind === 'flag') {
        if (eq >= 0) throw new OrchestratorError('usage', `option --${name} takes no value`);
        add(spec, 'true');
      } else if (eq >= 0) {
        add(spec, arg.slice(eq + 1));
      } else if (spec.kind === 'optional') {
        add(spec, '');
      } else {
        const value = argv[++i];
        if (value === undefined || looksLikeOption(value))
          throw new OrchestratorError('usage', `option --${name} needs a value`);
        add(spec, value);
      }
      continue;
    }
    // Short options, possibly bundled (-yq) or with an attached value.
    for (let j = 1; j < arg.length; j++) {
      const spec = specs.find((s) => s.short === arg[j]);
      if (!spec) throw new OrchestratorError('usage', `unrecognized option '-${arg[j]}'`);
      if (spec.kind === 'flag') {
        add(spec, 'true');
        continue;
      }
      const rest = arg.slice(j + 1);
      const value = rest !== '' ? rest : argv[++i];
      if (value === undefined || (rest === '' && looksLikeOption(value)))
        throw new OrchestratorError('usage', `option -${arg[j]} needs a value`);
      add(spec, value);
      break;
    }
  }
  return { command, options, repoSelectors, positionals };
}

export function formatOptionsHelp(specs: readonly OptionSpec[]): string {
  return specs
    .map((s) => {
      const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'value' ? ` ${s.metavar ?? 'VALUE'}` : s.kind === 'optional' ? `[=${s.metavar ?? 'VALUE'}]` : ''}`;
      return `  ${flag.padEnd(34)}${s.help}`;
    })
    .join('\n');
}

/** Helpers over ParsedArgs. */
export function flag(args: ParsedArgs, name: string): boolean {
  return (args.options.get(name)?.length ?? 0) > 0;
}

export function value(args: ParsedArgs, name: string): string | undefined {
  const list = args.options.get(name);
  return list?.[list.length - 1];
}

export function values(args: ParsedArgs, name: string): readonly string[] {
  return args.options.get(name) ?? [];
}
