/** The `tmpl-sim` command line: Qubes in a box for tests, the demo and benchmarks. */
export function main(argv: readonly string[]): Promise<number> {
  const [name] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write('usage: tmpl-sim up|down|forge|serve|demo [OPTIONS]\n');
    return Promise.resolve(name === undefined ? 2 : 0);
  }
  process.stderr.write(`tmpl-sim: unknown command '${name}'\n`);
  return Promise.resolve(2);
}
