/**
 * Checks for the Salt example (examples/salt/): a strict rendering of the few Jinja forms the
 * states use, and a structural check of the rendered states. Salt's own renderer is Jinja then
 * YAML (salt/renderers/jinja.py, yaml.py); the states may only read the pillar, by the forms
 * below, so that a tiny substitution renders them exactly.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { parseArgs, type ParsedArgs } from '../../orchestrator/cli/arguments.ts';
import { commands } from '../../orchestrator/cli/commands/index.ts';

export type Pillar = Readonly<Record<string, unknown>>;

/** `salt['pillar.get']('KEY', DEFAULT)`, DEFAULT a quoted name or `[]`. */
const PILLAR_GET = String.raw`salt\['pillar\.get'\]\('([a-z_:-]+)', (\[\]|'[A-Za-z0-9_.-]*')\)`;
const FOR_LOOP = new RegExp(String.raw`\{% for (\w+) in ${PILLAR_GET} %\}\n([\s\S]*?)\{% endfor %\}\n?`, 'g');
const EXPRESSION = new RegExp(String.raw`\{\{ ${PILLAR_GET} \}\}`, 'g');
/** A Qubes VM name (qubes/vm/__init__.py validate_name): what the pillar may put in a state. */
const VM_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;

function lookup(pillar: Pillar, key: string, keysRead: Set<string>): unknown {
  keysRead.add(key);
  let value: unknown = pillar;
  for (const part of key.split(':')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function vmName(value: unknown, where: string): string {
  if (typeof value !== 'string' || !VM_NAME.test(value))
    throw new Error(`${where}: not a VM name: ${String(value)}`);
  return value;
}

/** Renders the Jinja of a state file; anything but the known forms is an error. */
export function renderJinja(text: string, pillar: Pillar, keysRead = new Set<string>()): string {
  const looped = text.replace(
    FOR_LOOP,
    (_all, variable: string, key: string, fallback: string, body: string) => {
      if (fallback !== '[]') throw new Error(`for over ${key}: the default must be []`);
      const list = lookup(pillar, key, keysRead) ?? [];
      if (!Array.isArray(list)) throw new Error(`pillar ${key} is not a list`);
      return list.map((item) => body.replaceAll(`{{ ${variable} }}`, vmName(item, `pillar ${key}`))).join('');
    },
  );
  const rendered = looped.replace(EXPRESSION, (_all, key: string, fallback: string) => {
    if (fallback === '[]') throw new Error(`{{ }} of ${key}: the default must be a name`);
    return vmName(lookup(pillar, key, keysRead) ?? fallback.slice(1, -1), `pillar ${key}`);
  });
  const left = /\{[{%#]/.exec(rendered);
  if (left)
    throw new Error(
      `Jinja left after rendering at ${left.index}: ${rendered.slice(left.index, left.index + 40)}`,
    );
  return rendered;
}

/** YAML as Salt's yaml renderer takes it: one document, no duplicate keys, no errors. */
export function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ')}`);
  return doc.toJS() as unknown;
}

/** Each function a state may call, with the arguments it takes here. */
const REQUISITES = ['require', 'watch', 'onchanges'];
/** The actions of qvm.vm (qubes-mgmt-salt-dom0-qvm _states/ext_state_qvm.py vm()). */
const QVM_VM_ACTIONS = [
  'exists',
  'running',
  'missing',
  'halted',
  'absent',
  'present',
  'clone',
  'prefs',
  'devices',
  'service',
  'features',
  'firewall',
  'tags',
  'unpause',
  'pause',
  'shutdown',
  'kill',
  'start',
  'run',
];
const FUNCTIONS: Readonly<Record<string, readonly string[]>> = {
  'cmd.run': ['name', 'unless', 'onlyif', 'runas', 'cwd'],
  'file.managed': ['name', 'source', 'user', 'group', 'mode', 'makedirs'],
  'pkg.installed': ['name', 'pkgs'],
  'qvm.vm': ['name', 'actions', ...QVM_VM_ACTIONS],
  'qvm.tags': ['name', 'add', 'del'],
};
/** The programs a command may run besides tmpl. */
const PROGRAMS = ['python3'];

export interface StateCall {
  readonly id: string;
  readonly fn: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** A state file's states, checked: `ID: {module.function: [{arg: value}, ...]}`. */
export function stateCalls(data: unknown, file: string): StateCall[] {
  if (data === null) return [];
  if (typeof data !== 'object' || Array.isArray(data)) throw new Error(`${file}: not a mapping of state ids`);
  return Object.entries(data as Record<string, unknown>).map(([id, body]) => {
    const entries =
      typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.entries(body) : [];
    const [call] = entries;
    if (entries.length !== 1 || !call) throw new Error(`${file}: ${id}: not one module.function`);
    const [fn, list] = call;
    const allowed = FUNCTIONS[fn];
    if (!allowed) throw new Error(`${file}: ${id}: unknown function ${fn}`);
    if (!Array.isArray(list)) throw new Error(`${file}: ${id}: ${fn} takes a list`);
    const args: Record<string, unknown> = {};
    for (const item of list as unknown[]) {
      const pairs =
        typeof item === 'object' && item !== null && !Array.isArray(item) ? Object.entries(item) : [];
      const [pair] = pairs;
      if (pairs.length !== 1 || !pair) throw new Error(`${file}: ${id}: an argument is not one key: value`);
      const [key, value] = pair;
      if (!allowed.includes(key) && !REQUISITES.includes(key))
        throw new Error(`${file}: ${id}: ${fn} takes no argument ${key}`);
      if (key in args) throw new Error(`${file}: ${id}: ${key} twice`);
      args[key] = value;
    }
    return { id, fn, args };
  });
}

/** Every requisite names a state of the same file (by id, module matching) or an sls that exists. */
export function checkRequisites(calls: readonly StateCall[], file: string, statesDir: string): void {
  for (const call of calls) {
    for (const key of REQUISITES) {
      const targets = call.args[key];
      if (targets === undefined) continue;
      if (!Array.isArray(targets)) throw new Error(`${file}: ${call.id}: ${key} takes a list`);
      for (const target of targets as unknown[]) {
        const [pair, ...more] = typeof target === 'object' && target !== null ? Object.entries(target) : [];
        if (!pair || more.length > 0) throw new Error(`${file}: ${call.id}: ${key} entry is not module: id`);
        const [module, name] = pair;
        if (module === 'sls') {
          const sls = path.join(statesDir, ...String(name).split('.')) + '.sls';
          if (!existsSync(sls)) throw new Error(`${file}: ${call.id}: ${key} sls ${String(name)}: no ${sls}`);
          continue;
        }
        const found = calls.find((c) => c.id === name && c.fn.split('.')[0] === module);
        if (!found) throw new Error(`${file}: ${call.id}: ${key} ${module}: ${String(name)}: no such state`);
      }
    }
  }
}

/**
 * Splits a shell command into pipeline stages of words. Only words, single and double quotes
 * (without expansions) and `|` are allowed: the commands stay readable and checkable.
 */
export function pipelineStages(command: string): string[][] {
  const stages: string[][] = [[]];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'" || c === '"') {
      const end = command.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${command}`);
      const quoted = command.slice(i + 1, end);
      if (c === '"' && /[$`\\]/.test(quoted)) throw new Error(`expansion in double quotes: ${command}`);
      word = (word ?? '') + quoted;
      i = end;
    } else if (c === ' ' || c === '\n' || c === '|') {
      if (word !== undefined) stages.at(-1)!.push(word);
      word = undefined;
      if (c === '|') stages.push([]);
    } else if (/[A-Za-z0-9_.,:=/@+-]/.test(c)) {
      word = (word ?? '') + c;
    } else {
      throw new Error(`shell syntax ${JSON.stringify(c)} not allowed in: ${command}`);
    }
  }
  if (word !== undefined) stages.at(-1)!.push(word);
  if (stages.some((s) => s.length === 0)) throw new Error(`empty pipeline stage in: ${command}`);
  return stages;
}

/** Parses a tmpl command line with tmpl's own parser and command table (a typo fails). */
export function parseTmpl(words: readonly string[]): ParsedArgs {
  const args = parseArgs(words, (name) => commands.find((c) => c.name === name)?.options);
  if (!commands.some((c) => c.name === args.command))
    throw new Error(`not a tmpl command: ${words.join(' ')}`);
  return args;
}

/** Every command a cmd.run state runs: its stages run tmpl (parsed) or a known program. */
export function commandLines(calls: readonly StateCall[]): { id: string; key: string; stages: string[][] }[] {
  const out: { id: string; key: string; stages: string[][] }[] = [];
  for (const call of calls.filter((c) => c.fn === 'cmd.run')) {
    for (const key of ['name', 'unless', 'onlyif']) {
      const command = call.args[key];
      if (command === undefined) continue;
      if (typeof command !== 'string') throw new Error(`${call.id}: ${key} is not a command`);
      const stages = pipelineStages(command);
      for (const [program = '', ...words] of stages) {
        if (program === 'tmpl') parseTmpl(words);
        else if (!PROGRAMS.includes(program)) throw new Error(`${call.id}: ${key} runs ${program}`);
      }
      out.push({ id: call.id, key, stages });
    }
  }
  return out;
}
