/**
 * The man pages and the bash completion say what `--help` says: the built files (dist/man,
 * dist/completion, made by scripts/build.mjs in the tests' global setup) are compared with what the
 * built `tmpl --help` and `tmpl COMMAND --help` print, option by option, metavar and help text
 * included; the completion is run in bash itself.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bashCompletion,
  cliTables,
  ENVIRONMENT,
  EXIT_STATUSES,
  manPage,
  type DocsTables,
} from '../../../orchestrator/cli/docs.ts';
import { GLOBAL_OPTIONS } from '../../../orchestrator/cli/arguments.ts';
import { commands } from '../../../orchestrator/cli/commands/index.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DIST = path.join(ROOT, 'dist');
const TMPL = path.join(DIST, 'tmpl.mjs');

/** One option as --help shows it: `-y, --yes`, `--pool POOL`, `--dispvm[=DISPVM]`, and its help. */
interface ListedOption {
  readonly heading: string;
  readonly help: string;
}

/** `--help` output: the lines under `title:` up to the next blank line. */
function helpSection(text: string, title: string): ListedOption[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  expect(start, `no '${title}:' in --help`).toBeGreaterThanOrEqual(0);
  const options: ListedOption[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '') break;
    const match = /^ {2}((?:-\w, | {4})--[\w-]+(?:\[=[^\]]+\]| \S+)?)\s+(.*)$/.exec(line);
    expect(match, `unparsed --help line: ${line}`).not.toBeNull();
    options.push({ heading: match![1]!.trim(), help: match![2]! });
  }
  return options;
}

/** Roff to plain text: font changes dropped, `\-` and `\e` as typed. */
function plain(roffText: string): string {
  return roffText
    .replace(/\\f[BIR]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\&/g, '');
}

/** A man page's option lists: for each `.SH`/`.SS` title, the `.TP` items under it. */
function manSections(page: string): Map<string, ListedOption[]> {
  const sections = new Map<string, ListedOption[]>();
  const lines = page.split('\n');
  let title = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^\.S[HS] "?(.*?)"?$/.exec(line);
    if (heading) {
      title = plain(heading[1]!);
      sections.set(title, []);
    } else if (line === '.TP') {
      sections.get(title)!.push({ heading: plain(lines[i + 1]!), help: plain(lines[i + 2]!) });
    }
  }
  return sections;
}

/** The man page's text for a --help line: capitalised, with a full stop. */
function manHelp(help: string): string {
  return `${help.charAt(0).toUpperCase()}${help.slice(1)}.`;
}

function expectSameOptions(
  fromMan: readonly ListedOption[] | undefined,
  fromHelp: readonly ListedOption[],
): void {
  expect(fromMan, 'section missing from the man page').toBeDefined();
  expect(fromMan!.map((o) => o.heading)).toEqual(fromHelp.map((o) => o.heading));
  fromMan!.forEach((option, index) =>
    expect(option.help.startsWith(manHelp(fromHelp[index]!.help))).toBe(true),
  );
}

async function helpOf(...args: string[]): Promise<string> {
  return (await run(process.execPath, [TMPL, ...args])).stdout;
}

describe('the man pages', () => {
  const tmplPage = readFileSync(path.join(DIST, 'man', 'tmpl.1'), 'utf8');
  const installPage = readFileSync(path.join(DIST, 'man', 'tmpl-install.1'), 'utf8');

  it('are the generator output for the current tables', () => {
    expect(tmplPage).toBe(manPage('tmpl'));
    expect(installPage).toBe(manPage('tmpl-install'));
  });

  it('tmpl(1) lists the global options exactly as `tmpl --help` does', async () => {
    const help = await helpOf('--help');
    expectSameOptions(manSections(tmplPage).get('OPTIONS'), helpSection(help, 'global options'));
  });

  it('tmpl(1) has every command of `tmpl --help`, each with the options of `tmpl COMMAND --help`', async () => {
    const help = await helpOf('--help');
    const start = help.split('\n').indexOf('commands:');
    const listed: string[] = [];
    for (const line of help.split('\n').slice(start + 1)) {
      if (line === '') break;
      listed.push(line.trim().split(/\s+/)[0]!);
    }
    const sections = manSections(tmplPage);
    const commandTitles = [...sections.keys()].filter((title) => listed.includes(title));
    expect(commandTitles).toEqual(listed);
    expect(listed).toEqual(commands.map((c) => c.name));
    for (const name of listed) {
      const commandHelp = await helpOf(name, '--help');
      expectSameOptions(sections.get(name), helpSection(commandHelp, 'options'));
      // and the usage line --help starts with, verbatim
      const usage = /^usage: (.*)$/m.exec(commandHelp)![1]!;
      expect(plain(tmplPage)).toContain(`.SS ${name}\n${usage}\n`);
    }
  }, 60_000);

  it('tmpl-install(1) lists the options of `tmpl-install --help`', async () => {
    const help = await helpOf('install', '--help');
    const sections = manSections(installPage);
    expectSameOptions(sections.get('OPTIONS'), helpSection(help, 'options'));
    expectSameOptions(sections.get('Global options'), helpSection(help, 'global options'));
  });

  it('a table with one more option gives a page that no longer matches --help', () => {
    const tables: DocsTables = {
      ...cliTables(),
      globalOptions: [...GLOBAL_OPTIONS, { name: 'extra', kind: 'flag', help: 'not in --help' }],
    };
    const headings = manSections(manPage('tmpl', tables))
      .get('OPTIONS')!
      .map((o) => o.heading);
    expect(headings).toContain('--extra');
    expect(headings).toHaveLength(GLOBAL_OPTIONS.length + 1);
  });

  it('render with groff without a single warning', () => {
    for (const file of ['tmpl.1', 'tmpl-install.1']) {
      const result = execFileSync('groff', ['-man', '-Tutf8', '-ww', '-z', path.join(DIST, 'man', file)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(result).toBe('');
      // -P-cbou: plain text, no bold or underline sequences
      const rendered = execFileSync(
        'groff',
        ['-man', '-Tutf8', '-P-cbou', '-ww', path.join(DIST, 'man', file)],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      expect(rendered).toContain('EXIT STATUS');
    }
    // groff -ww reports through stderr: a broken request is caught by the check above
    const broken = mkdtempSync(path.join(tmpdir(), 'tmpl-man-'));
    try {
      writeFileSync(path.join(broken, 'x.1'), '.TH X 1\n.SH NAME\n.ZZ\nx\n');
      const stderr = execFileSync(
        'sh',
        ['-c', `groff -man -Tutf8 -ww -z ${path.join(broken, 'x.1')} 2>&1 >/dev/null`],
        { encoding: 'utf8' },
      );
      expect(stderr).toMatch(/warning/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('list every exit status and environment variable of the README, and every TMPL_ variable the code reads', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const table = (heading: string): string[] => {
      const section = readme.slice(readme.indexOf(`### ${heading}\n`));
      const rows = section.split('\n').slice(1);
      const first = rows.findIndex((row) => row.startsWith('|'));
      return rows
        .slice(first + 2)
        .filter((_, index, all) => all.slice(0, index + 1).every((row) => row.startsWith('|')))
        .map((row) => row.split('|')[1]!.trim());
    };
    const numbers = (cells: readonly string[]): number[] =>
      cells.flatMap((cell) => cell.split(/,\s*/).map(Number)).sort((a, b) => a - b);
    expect(numbers(EXIT_STATUSES.map((e) => e.status))).toEqual(numbers(table('Exit status')));
    const manVariables = ENVIRONMENT.flatMap((e) => e.names).sort();
    const readmeVariables = table('Environment')
      .flatMap((cell) => cell.match(/TMPL_[A-Z_]+/g) ?? [])
      .sort();
    expect(manVariables).toEqual(readmeVariables);
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && entry.name !== 'docs.ts')
          for (const match of readFileSync(file, 'utf8').matchAll(/\bTMPL_[A-Z][A-Z_]*[A-Z]\b/g))
            read.add(match[0]);
      }
    };
    walk(path.join(ROOT, 'orchestrator'));
    for (const name of read) expect(manVariables, `${name} is read but not documented`).toContain(name);
    for (const { status } of EXIT_STATUSES)
      expect(
        manSections(tmplPage)
          .get('EXIT STATUS')!
          .map((e) => e.heading),
      ).toContain(status);
  });
});

describe('the bash completion', () => {
  const script = path.join(DIST, 'completion', 'tmpl.bash');
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tmpl-completion-'));
    mkdirSync(path.join(dir, 'keys.d'));
    writeFileSync(path.join(dir, 'keyfile.asc'), '');
    writeFileSync(path.join(dir, 'fedora.repo'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the completion function for a command line; the last word is the one being completed. */
  async function complete(...words: string[]): Promise<string[]> {
    const body = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      words[0] === 'tmpl-install' ? '_tmpl_install' : '_tmpl',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', body], { cwd: dir });
    // compgen lists files in directory order; words in the order given
    return stdout.split('\n').filter((line) => line !== '');
  }

  const longNames = (specs: readonly { name: string }[]): string[] => specs.map((s) => `--${s.name}`);

  it('is the generator output, installed under both names', () => {
    expect(readFileSync(script, 'utf8')).toBe(bashCompletion());
    expect(readFileSync(path.join(DIST, 'completion', 'tmpl-install.bash'), 'utf8')).toBe(bashCompletion());
  });

  it('completes the commands', async () => {
    expect(await complete('tmpl', '')).toEqual(commands.map((c) => c.name));
    expect(await complete('tmpl', 'in')).toEqual(['install', 'info']);
    // after global options and their values
    expect(await complete('tmpl', '--progress', 'json', '-y', 'rep')).toEqual(['repolist']);
    expect(await complete('tmpl', '--progress', '=', 'json', 're')).toEqual([
      'reinstall',
      'remove',
      'refresh-metadata',
      'repolist',
    ]);
    // --dispvm takes its value only as --dispvm=VM: the next word is the command
    expect(await complete('tmpl', '--dispvm', 'pu')).toEqual(['purge']);
  });

  it("completes each command's options and the global ones, long and short", async () => {
    const shorts = GLOBAL_OPTIONS.flatMap((s) => (s.short ? [`-${s.short}`] : []));
    expect(shorts.length).toBeGreaterThan(0);
    for (const command of commands) {
      const expected = [...longNames(GLOBAL_OPTIONS), ...longNames(command.options ?? [])].sort();
      expect((await complete('tmpl', command.name, '--')).sort(), command.name).toEqual(expected);
      expect((await complete('tmpl', command.name, '-')).sort(), command.name).toEqual(
        [...expected, ...shorts].sort(),
      );
    }
    expect(await complete('tmpl', '--pro')).toEqual(['--progress']);
    // before the command, only the global options
    expect(await complete('tmpl', '--po')).toEqual([]);
    expect(await complete('tmpl-install', '--po')).toEqual(['--pool']);
    expect(await complete('tmpl', 'list', '--machine-readable')).toEqual([
      '--machine-readable',
      '--machine-readable-json',
    ]);
  }, 60_000);

  it('completes option values: files, directories, words, and nothing where it cannot know', async () => {
    expect((await complete('tmpl', '--repo-files', '')).sort()).toEqual(
      ['fedora.repo', 'keyfile.asc', 'keys.d'].sort(),
    );
    expect((await complete('tmpl', '--keyring', 'key')).sort()).toEqual(['keyfile.asc', 'keys.d']);
    expect(await complete('tmpl', 'install', '--downloaddir', '')).toEqual(['keys.d']);
    expect(await complete('tmpl', '--progress', '')).toEqual(['bar', 'json', 'none']);
    expect(await complete('tmpl', '--progress', '=', 'j')).toEqual(['json']);
    expect(await complete('tmpl', '--progress=n')).toEqual(['--progress=none']);
    expect(await complete('tmpl', '--dispvm', '=', '')).toEqual([]);
    expect(await complete('tmpl', '--updatevm', '=', '')).toEqual([]);
    expect(await complete('tmpl', 'install', '--pool', '')).toEqual([]);
    // package files for the commands that take them
    expect(await complete('tmpl', 'install', 'fed')).toEqual(['fedora.repo']);
    expect(await complete('tmpl', 'remove', 'fed')).toEqual([]);
  }, 60_000);

  it('covers every option of the tables', () => {
    const text = bashCompletion();
    for (const spec of [...GLOBAL_OPTIONS, ...commands.flatMap((c) => c.options ?? [])]) {
      expect(text).toContain(`--${spec.name}`);
      if (spec.short) expect(text).toContain(`-${spec.short}`);
    }
  });
});
