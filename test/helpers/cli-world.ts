/**
 * Old names of the test kit (test/helpers/kit/), kept so that tests written against them still
 * run; new tests import the kit itself. expectFailure here is the kit's strict one: the exact
 * exit status (default 1), the error code in `--json` and on stderr.
 */
import { expectFailure as expectFailureOf, type TmplRun } from './kit/index.ts';

export {
  disposables as disposableNames,
  expectSuccess,
  importLeftovers,
  jsonOf,
  lockIsFree,
  managedFeatures,
  MiB,
  Qubes,
  REPO_ROOT,
  RUN_TIMEOUT_MS,
  runOnTerminal as runCliOnTerminal,
  runTmpl as runCli,
  simState,
  startTmpl as startCli,
  TMPL_BIN,
  tmplEnv as cliEnv,
  type RunOptions,
  type TmplRun as CliRun,
} from './kit/index.ts';

export function expectFailure(run: TmplRun, code: string, exitCode = 1): void {
  expectFailureOf(run, { code, exit: exitCode });
}
