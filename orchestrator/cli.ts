/**
 * The `tmpl` command line. The only place that turns errors into exit codes and messages.
 */
import { commands } from './commands/index.ts';
import { TmplError } from '../protocol/errors.ts';

function usage(): string {
  const lines = [
    'usage: tmpl [--help] COMMAND [OPTIONS] [ARGS...]',
    '',
    'Manage Qubes OS TemplateVMs: every package is downloaded, verified and unpacked in a',
    'disposable VM; only a verified root image and validated metadata reach this domain.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(20)}${c.summary}`),
    '',
    "Run 'tmpl COMMAND --help' for a command's options.",
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`tmpl: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run({
      argv: rest,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
  } catch (error) {
    const code = error instanceof TmplError ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tmpl: error [${code}]: ${message}\n`);
    return 1;
  }
}
