/**
 * Loads qrexec policy v5 from directories the way qrexec's FilePolicy does:
 *  - every regular `*.policy` file not starting with '.', from each directory; a name found in
 *    an earlier directory hides the same name in later ones (/run/qubes/policy.d over
 *    /etc/qubes/policy.d upstream);
 *  - any such file whose name has a character outside [0-9a-z_.-] makes the whole policy invalid;
 *  - files are read in C (byte) order of their names; rules keep file order, first match wins;
 *  - `!include PATH` and `!include-dir PATH` resolve relative to the directory of the top-level
 *    file being loaded (absolute paths are used as they are); `!include-service SERVICE ARG PATH`
 *    reads the old per-service format; `!compat-4.0` is refused (the simulator has no R4.0 policy).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PolicySyntaxError } from './errors.ts';
import { MAX_POLICY_FILE_BYTES, MAX_POLICY_INCLUDE_DEPTH } from './limits.ts';
import {
  parseRuleLine,
  parseServiceRuleLine,
  validateServiceAndArgument,
  type PolicyRule,
} from './policy-rule.ts';

const POLICY_SUFFIX = '.policy';
const FILENAME_CHARS = /^[0-9a-z_.-]+$/;

interface LoadContext {
  readonly rules: PolicyRule[];
  /** The directory of the top-level file being loaded; includes resolve against it. */
  readonly baseDir: string;
}

function compareC(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The policy files of one directory, sorted; throws on a file name qrexec would refuse. */
export function listPolicyFiles(dir: string): string[] {
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.name.endsWith(POLICY_SUFFIX) && !entry.name.startsWith('.'))
    .filter(
      (entry) =>
        entry.isFile() || (entry.isSymbolicLink() && fs.statSync(path.join(dir, entry.name)).isFile()),
    )
    .map((entry) => entry.name);
  for (const name of names) {
    if (!FILENAME_CHARS.test(name)) {
      throw new PolicySyntaxError('policy.filename', path.join(dir, name), 0, 'invalid filename');
    }
  }
  return names.sort(compareC).map((name) => path.join(dir, name));
}

function readPolicyFile(file: string, includedFrom: string, line: number): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new PolicySyntaxError('policy.syntax.include', includedFrom, line, `not a file: ${file}`);
  }
  if (!stat.isFile())
    throw new PolicySyntaxError('policy.syntax.include', includedFrom, line, `not a file: ${file}`);
  if (stat.size > MAX_POLICY_FILE_BYTES) {
    throw new PolicySyntaxError(
      'policy.syntax.too-large',
      file,
      0,
      `larger than ${MAX_POLICY_FILE_BYTES} bytes`,
    );
  }
  return fs.readFileSync(file, 'utf8');
}

function resolveInclude(ctx: LoadContext, included: string): string {
  return path.resolve(ctx.baseDir, included);
}

function oneParam(params: readonly string[], file: string, line: number): string {
  if (params.length !== 1 || params[0] === undefined) {
    throw new PolicySyntaxError('policy.syntax.directive', file, line, 'invalid number of params');
  }
  return params[0];
}

function loadFile(ctx: LoadContext, file: string, text: string, depth: number): void {
  if (depth > MAX_POLICY_INCLUDE_DEPTH) {
    throw new PolicySyntaxError(
      'policy.syntax.include',
      file,
      0,
      `includes nested deeper than ${MAX_POLICY_INCLUDE_DEPTH}`,
    );
  }
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = (lines[index] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('!')) {
      const [directive, ...params] = line.split(/\s+/);
      if (directive === '!include') {
        const target = resolveInclude(ctx, oneParam(params, file, lineNo));
        loadFile(ctx, target, readPolicyFile(target, file, lineNo), depth + 1);
      } else if (directive === '!include-dir') {
        const dir = resolveInclude(ctx, oneParam(params, file, lineNo));
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
          throw new PolicySyntaxError('policy.syntax.include', file, lineNo, `not a directory: ${dir}`);
        }
        for (const included of listPolicyFiles(dir)) {
          loadFile(ctx, included, readPolicyFile(included, file, lineNo), depth + 1);
        }
      } else if (directive === '!include-service') {
        const [service, argument, included] = params;
        if (
          params.length !== 3 ||
          service === undefined ||
          argument === undefined ||
          included === undefined
        ) {
          throw new PolicySyntaxError('policy.syntax.directive', file, lineNo, 'invalid number of params');
        }
        validateServiceAndArgument(service, argument, file, lineNo);
        const target = resolveInclude(ctx, included);
        loadServiceFile(ctx, service, argument, target, readPolicyFile(target, file, lineNo), depth + 1);
      } else if (directive === '!compat-4.0') {
        throw new PolicySyntaxError(
          'policy.syntax.directive',
          file,
          lineNo,
          '!compat-4.0 is not supported by the simulator (there is no R4.0 policy to import)',
        );
      } else {
        throw new PolicySyntaxError('policy.syntax.directive', file, lineNo, 'invalid directive');
      }
      continue;
    }
    ctx.rules.push(parseRuleLine(line, file, lineNo));
  }
}

/** The old per-service format, with the substitutions qrexec's load_policy_file_service applies. */
function loadServiceFile(
  ctx: LoadContext,
  service: string,
  argument: string,
  file: string,
  text: string,
  depth: number,
): void {
  if (depth > MAX_POLICY_INCLUDE_DEPTH) {
    throw new PolicySyntaxError(
      'policy.syntax.include',
      file,
      0,
      `includes nested deeper than ${MAX_POLICY_INCLUDE_DEPTH}`,
    );
  }
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    let line = (lines[index] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    line = line.replaceAll('$include:', '!include ').replaceAll('$', '@').replaceAll(',', ' ');
    if (line.startsWith('!')) {
      const [directive, ...params] = line.split(/\s+/);
      if (directive !== '!include') {
        throw new PolicySyntaxError('policy.syntax.directive', file, lineNo, 'invalid directive');
      }
      const target = resolveInclude(ctx, oneParam(params, file, lineNo));
      loadServiceFile(ctx, service, argument, target, readPolicyFile(target, file, lineNo), depth + 1);
      continue;
    }
    ctx.rules.push(parseServiceRuleLine(service, argument, line, file, lineNo));
  }
}

/** Parses one policy text as if it were the file `file` (tests, linting). */
export function parsePolicyText(text: string, file = '<string>', baseDir = process.cwd()): PolicyRule[] {
  const ctx: LoadContext = { rules: [], baseDir };
  loadFile(ctx, file, text, 0);
  return ctx.rules;
}

/** Loads the policy from `dirs` (earlier directories hide same-named files of later ones). */
export function loadPolicyDirs(dirs: readonly string[]): PolicyRule[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const file of listPolicyFiles(dir)) {
      const name = path.basename(file);
      if (!byName.has(name)) byName.set(name, file);
    }
  }
  const rules: PolicyRule[] = [];
  for (const name of [...byName.keys()].sort(compareC)) {
    const file = byName.get(name)!;
    const ctx: LoadContext = { rules, baseDir: path.dirname(file) };
    loadFile(ctx, file, readPolicyFile(file, file, 0), 0);
  }
  return rules;
}
