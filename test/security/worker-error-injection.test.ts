/**
 * Attack: the worker's ERROR message carries line breaks and terminal escapes, to forge tmpl's
 * own output ("Template 'x' installed: ...") on a terminal or in a log, or to clear the screen.
 * The orchestrator shows the worker's words as one quoted line with every control, separator and
 * invisible character escaped; an ERROR frame whose message breaks the schema (raw ESC, C1, bidi
 * overrides) is refused (message.schema) without quoting it at all. The upgrade fails, the
 * root volume stays.
 */
import { expect } from 'vitest';
import {
  RUN_TIMEOUT_MS,
  defineAttack,
  expectUntouched,
  installedVictim,
  jsonOf,
  lyingWorker,
  runTmpl,
  type TmplRun,
} from '../helpers/kit/index.ts';

const NAME = 'fedora-victim';

/** Characters that must never reach a terminal raw: C0/C1 controls, DEL, separators, format. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

const QUOTED =
  "\"download failed\\nTemplate 'fedora-victim' upgraded: qubes-template-fedora-victim-4.2.0-9 from qubes-templates-itl" +
  "\\u2028Template 'x' installed: forged\\tline\\u200b\"";

/** stderr's lines apart from pino's JSON log lines, and none of them with a raw control. */
function humanStderrLines(run: TmplRun): string[] {
  const lines = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  for (const line of lines) expect(RAW.test(line), JSON.stringify(line)).toBe(false);
  return lines;
}

defineAttack('tmpl-sec-errinj-', installedVictim(NAME, ['1', '2'], 'error-injection'), [
  {
    name: 'a forged line in the ERROR message stays inside one quoted line, on stderr and in --json',
    argv: ['upgrade', '--yes', '--skip-start', NAME],
    code: 'worker.reported-error',
    check: async (run, { scenario, before }) => {
      expect(humanStderrLines(run)).toEqual([
        `tmpl: error [worker.reported-error]: the worker failed: [download.failed] ${QUOTED}`,
      ]);
      // stdout holds the --json object only, its message one line with the same quoted words
      expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
      const message = jsonOf(run).error?.message ?? '';
      expect(message).toBe(`the worker failed: [download.failed] ${QUOTED}`);
      expect(RAW.test(message)).toBe(false);

      // Without --json, stdout stays empty: no forged "Template ... upgraded" line anywhere.
      const human = await runTmpl(scenario, ['upgrade', '--yes', '--skip-start', NAME]);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toBe('');
      expect(humanStderrLines(human)).toEqual([
        `tmpl: error [worker.reported-error]: the worker failed: [download.failed] ${QUOTED}`,
      ]);
      await expectUntouched(scenario, before, NAME);
    },
    timeoutMs: 2 * RUN_TIMEOUT_MS,
  },
  {
    name: 'raw ESC, C1 CSI and a bidi override break the ERROR schema: refused, nothing raw',
    worker: () => lyingWorker('error-injection-escape'),
    argv: ['upgrade', '--yes', '--skip-start', NAME],
    code: 'message.schema',
    check: (run) => {
      expect(run.stderr).not.toMatch(/\x1b|\x9b|\u202e/);
      const lines = humanStderrLines(run);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^tmpl: error \[message\.schema\]: /);
      expect(lines[0]).not.toContain('installed: forged');
      expect(jsonOf(run).error?.message).not.toMatch(RAW);
    },
  },
]);
