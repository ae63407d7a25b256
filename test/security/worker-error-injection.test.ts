/**
 * Attack: the worker's ERROR message carries line breaks and terminal escapes, to forge tmpl's
 * own output ("Template 'x' installed: ...") on a terminal or in a log, or to clear the screen.
 * The orchestrator shows the worker's words as one quoted line with every control, separator and
 * invisible character escaped; an ERROR frame whose message breaks the schema (raw ESC, C1, bidi
 * overrides) is refused (message.schema) without quoting it at all. The upgrade fails, the
 * root volume stays.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scenario } from '../../sim/scenario.ts';
import {
  CLI_TIMEOUT_MS,
  expectFailure,
  expectUntouched,
  jsonOf,
  lyingWorker,
  runTmpl,
  setWorkerService,
  smallTemplate,
  type Snapshot,
  type TmplRun,
  attackWorld,
  closeAttackWorld,
  type AttackWorld,
} from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';
let world: AttackWorld | undefined;
let scenario: Scenario;
let before: Snapshot;

/** Characters that must never reach a terminal raw: C0/C1 controls, DEL, separators, format. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

beforeAll(async () => {
  world = await attackWorld('tmpl-sec-errinj-', {
    templates: [smallTemplate(NAME, '4.2.0', '1', 'v1'), smallTemplate(NAME, '4.2.0', '2', 'v2')],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
    worker: () => lyingWorker('error-injection'),
  });
  ({ scenario, before } = world);
}, 180_000);

afterAll(() => closeAttackWorld(world));

/** stderr's lines apart from pino's JSON log lines, and none of them with a raw control. */
function humanStderrLines(run: TmplRun): string[] {
  const lines = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  for (const line of lines) expect(RAW.test(line), JSON.stringify(line)).toBe(false);
  return lines;
}

it(
  'a forged line in the ERROR message stays inside one quoted line, on stderr and in --json',
  async () => {
    const run = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(run, 'worker.reported-error');
    expect(run.exitCode).toBe(1);
    const quoted =
      "\"download failed\\nTemplate 'fedora-victim' upgraded: qubes-template-fedora-victim-4.2.0-9 from qubes-templates-itl" +
      "\\u2028Template 'x' installed: forged\\tline\\u200b\"";
    expect(humanStderrLines(run)).toEqual([
      `tmpl: error [worker.reported-error]: the worker failed: [download.failed] ${quoted}`,
    ]);
    // stdout holds the --json object only, its message one line with the same quoted words
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
    const message = jsonOf(run).error?.message ?? '';
    expect(message).toBe(`the worker failed: [download.failed] ${quoted}`);
    expect(RAW.test(message)).toBe(false);
    await expectUntouched(scenario, before, NAME);

    // Without --json, stdout stays empty: no forged "Template ... upgraded" line anywhere.
    const human = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', NAME]);
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toBe('');
    expect(humanStderrLines(human)).toEqual([
      `tmpl: error [worker.reported-error]: the worker failed: [download.failed] ${quoted}`,
    ]);
    await expectUntouched(scenario, before, NAME);

    // Raw ESC, C1 CSI and a bidi override break the ERROR schema: refused, nothing raw.
    await setWorkerService(scenario, lyingWorker('error-injection-escape'));
    const escaped = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', '--json', NAME]);
    expectFailure(escaped, 'message.schema');
    expect(escaped.exitCode).toBe(1);
    expect(escaped.stderr).not.toMatch(/\x1b|\x9b|\u202e/);
    const lines = humanStderrLines(escaped);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tmpl: error \[message\.schema\]: /);
    expect(lines[0]).not.toContain('installed: forged');
    expect(jsonOf(escaped).error?.message).not.toMatch(RAW);
    await expectUntouched(scenario, before, NAME);
  },
  3 * CLI_TIMEOUT_MS,
);
