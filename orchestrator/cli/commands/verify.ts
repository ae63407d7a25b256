/**
 * `tmpl verify [--keyring FILE]... [--nogpgcheck] PKG.rpm...`: checks package files as
 * `rpmkeys --checksig` does for qvm-template, one verdict line per package.
 * Exit status: 0 if every package passed, 1 otherwise, 2 on a usage error.
 */
import { loadKeyring } from '../../verify/keyring.ts';
import { verifyPackageFile, type PackageVerdict } from '../../verify/package-file.ts';
import { flag } from '../arguments.ts';
import { readVerifyArgs, VERIFY_USAGE } from '../verify-arguments.ts';
import { OrchestratorError } from '../../errors.ts';
import { displayLine } from '../../../protocol/display-text.ts';
import { formatVerdict, verifyReport } from '../report-format.ts';
import type { Command, CommandContext } from './types.ts';

async function run(ctx: CommandContext): Promise<number> {
  let args;
  try {
    args = readVerifyArgs(ctx);
  } catch (error) {
    ctx.stderr.write(`tmpl verify: ${displayLine((error as Error).message)}\n\n${VERIFY_USAGE}`);
    return 2;
  }
  if (args.help) {
    ctx.stdout.write(VERIFY_USAGE);
    return 0;
  }
  const json = ctx.args !== undefined && flag(ctx.args, 'json');
  if (args.packages.length === 0) {
    // Through the CLI, a usage error is reported (and as JSON with --json) by cli/main.ts.
    if (ctx.args !== undefined) throw new OrchestratorError('usage', 'verify: no package given');
    ctx.stderr.write(`tmpl verify: no package given\n\n${VERIFY_USAGE}`);
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
