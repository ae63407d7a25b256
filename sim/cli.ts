/** The `tmpl-sim` command line: Qubes in a box for tests, the demo and benchmarks. */
import { simCommands } from './commands/index.ts';

function usage(): string {
  return [
    'usage: tmpl-sim COMMAND [OPTIONS]',
    '',
    'commands:',
    ...simCommands.map((c) => `  ${c.name.padEnd(10)}${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = simCommands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`tmpl-sim: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    process.stderr.write(`tmpl-sim: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
