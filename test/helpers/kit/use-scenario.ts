/**
 * One simulated Qubes (sim/scenario.ts) for the tests of one file: created before them (within
 * one run's timeout, RUN_TIMEOUT_MS), set up by the file's own `setup`, and closed after them,
 * so that each test file keeps only what is its own. The attack tests' `useWorld` (attack.ts) is
 * the same for a world with a planted template and a snapshot.
 */
import { afterAll, beforeAll } from 'vitest';
import { createScenario, type Scenario, type ScenarioOptions } from '../../../sim/scenario.ts';
import { Qubes } from './qubes-view.ts';
import { RUN_TIMEOUT_MS } from './run.ts';

/** The file's scenario and the simulated Qubes as dom0 sees it; read them only within tests. */
export interface ScenarioUse {
  readonly scenario: Scenario;
  readonly qubes: Qubes;
}

/**
 * Creates the scenario before the file's tests and closes it after them; `setup` then sets the
 * scene (templates created by hand, services, files) before any test runs.
 */
export function useScenario(
  options: ScenarioOptions,
  setup?: (scenario: Scenario, qubes: Qubes) => Promise<void> | void,
): ScenarioUse {
  let built: { scenario: Scenario; qubes: Qubes } | undefined;
  let created: Scenario | undefined;
  beforeAll(async () => {
    created = await createScenario(options);
    const qubes = Qubes.of(created);
    await setup?.(created, qubes);
    built = { scenario: created, qubes };
  }, RUN_TIMEOUT_MS);
  afterAll(async () => {
    await created?.close();
  });
  const get = (): { scenario: Scenario; qubes: Qubes } => {
    if (!built) throw new Error('the scenario was not created');
    return built;
  };
  return {
    get scenario(): Scenario {
      return get().scenario;
    },
    get qubes(): Qubes {
      return get().qubes;
    },
  };
}
