/** A `tmpl-sim` subcommand: takes its own arguments, returns the exit code. */
export interface SimCommand {
  readonly name: string;
  readonly summary: string;
  run(argv: readonly string[]): Promise<number>;
}
