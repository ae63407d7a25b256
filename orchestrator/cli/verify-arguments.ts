/**
 * `tmpl verify`'s command line: from the CLI's own parse, or (when the command is run directly
 * with an argv) parsed here with node's strict parser, with its own usage text.
 */
import { parseArgs } from 'node:util';
import { flag, values } from './arguments.ts';
import type { CommandContext } from './commands/types.ts';

export const VERIFY_USAGE = `usage: tmpl verify [--keyring FILE]... [--nogpgcheck] PKG.rpm...

Check the digests and OpenPGP signatures of RPM package files, as rpmkeys --checksig does.

options:
  --keyring FILE   armored OpenPGP public key file(s) to trust (repeatable)
  --nogpgcheck     check digests only, not signatures
  -h, --help       show this help
`;

/** The command line, from the CLI's own parse (`ctx.args`) or, when called directly, from argv. */
export function readVerifyArgs(ctx: CommandContext): {
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
