/**
 * Old names of the test kit (test/helpers/kit/), kept so that tests written against them still
 * run; new tests import the kit itself. expectFailure here is the kit's strict one: the exact
 * exit status (default 1), the error code in `--json` and on stderr.
 */
import { expectFailure as expectFailureOf, runTmpl as runTmplWith, type TmplRun } from './kit/index.ts';
import type { Scenario } from '../../sim/scenario.ts';

export {
  ATTACK_SETUP_TIMEOUT_MS,
  attackWorld,
  closeAttackWorld,
  defineAttack,
  denseImage,
  disposables,
  expectSuccess,
  expectUntouched,
  fileSha256,
  imageSha256,
  importLeftovers,
  installedVictim,
  jsonOf,
  lyingWorker,
  MEETS_RUNNING_IMPORT,
  MiB,
  plantTemplate,
  Qubes as SimQubes,
  REPO_ROOT,
  RUN_TIMEOUT_MS as CLI_TIMEOUT_MS,
  setWorkerService,
  smallTemplate,
  snapshot,
  type AttackCase,
  type AttackSetup,
  type AttackWorld,
  type Snapshot,
  type TmplRun,
} from './kit/index.ts';

/** Runs tmpl with more environment `env` (the kit's runTmpl takes `{ env }`). */
export function runTmpl(
  scenario: Scenario,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<TmplRun> {
  return runTmplWith(scenario, args, { env });
}

export function expectFailure(run: TmplRun, code: string, exitCode = 1): void {
  expectFailureOf(run, { code, exit: exitCode });
}
