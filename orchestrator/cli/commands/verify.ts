/**
 * `tmpl verify [--keyring FILE]... [--nogpgcheck] PKG.rpm...`: checks package files as
 * `rpmkeys --checksig` does for qvm-template, one verdict line per package.
 * Exit status: 0 if every package passed, 1 otherwise, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { loadKeyring } from '../../verify/keyring.ts';
import { verifyPackageFile, type PackageVerdict } from '../../verify/package-file.ts';
import { flag, values } from '../arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { formatVerdict, verifyReport } from '../report-format.ts';
import type { Command, CommandContext } from './types.ts';

const USAGE = `usage: tmpl verify [--keyring FILE]... [--nogpgcheck] PKG.rpm...

Check the digests and OpenPGP signatures of RPM package files, as rpmkeys --checksig does.

options:
  --keyring FILE   armored OpenPGP public key file(s) to trust (repeatable)
  --nogpgcheck     check digests only, not signatures
  -h, --help       show this help
`;

/** The command line, from the CLI's own parse (`ctx.args`) or, when called directly, from argv. */
function readArgs(ctx: CommandContext): {
  keyrings: string[];
  nogpgcheck: boolean;
  help: boolean;
  packages: string[];
} {
  if (ctx.args !== undefined) {
    return {
      keyrings: [...values(ctx.args, 'keyring')],
      nogpgcheck: flag(ctx.args, 'nogpgcheck'),
      help: flag(ctx.args, 'help'),
      packages: [...ctx.args.positionals],
    };
  }
  const parsed = parseArgs({
    args: [...ctx.argv],
    options: {
      keyring: { type: 'string', multiple: true },
      nogpgcheck: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  return {
    keyrings: parsed.values.keyring ?? [],
    nogpgcheck: parsed.values.nogpgcheck === true,
    help: parsed.values.help === true,
    packages: parsed.positionals,
  };
}

async function run(ctx: CommandContext): Promise<number> {
  let args;
  try {
    args = readArgs(ctx);
  } catch (error) {
    ctx.stderr.write(`tmpl verify: ${displayLine((error as Error).message)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const json = ctx.args !== undefined && flag(ctx.args, 'json');
  if (args.packages.length === 0) {
    // Through the CLI, a usage error is reported (and as JSON with --json) by cli/main.ts.
    if (ctx.args !== undefined) throw new OrchestratorError('usage', 'verify: no package given');
    ctx.stderr.write(`tmpl verify: no package given\n\n${USAGE}`);
    return 2;
  }
  const keys = await loadKeyring(args.keyrings);
  const verdicts: PackageVerdict[] = [];
  for (const path of args.packages) {
    const verdict = await verifyPackageFile(path, keys, { nogpgcheck: args.nogpgcheck });
    verdicts.push(verdict);
    if (!json) ctx.stdout.write(formatVerdict(verdict) + '\n');
  }
  if (json) ctx.stdout.write(verifyReport(verdicts));
  return verdicts.every((v) => v.ok) ? 0 : 1;
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check RPM package digests and signatures (like rpmkeys --checksig)',
  usage: 'tmpl verify [--keyring FILE]... [--nogpgcheck] PKG.rpm...',
  options: [{ name: 'nogpgcheck', kind: 'flag', help: 'check digests only, not signatures' }],
  run,
};
