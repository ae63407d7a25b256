/**
 * --progress=json: one JSON event per line on stdout for GUIs and automation, before the final
 * --json result, through a real install in a disposable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  attackWorld,
  closeAttackWorld,
  RUN_TIMEOUT_MS,
  runTmpl,
  smallTemplate,
  type AttackWorld,
} from '../../helpers/kit/index.ts';

let world: AttackWorld | undefined;

beforeAll(async () => {
  world = await attackWorld('tmpl-progress-', {
    templates: [smallTemplate('fedora-progress', '4.2.0', '1', 'p')],
  });
}, 180_000);

afterAll(() => closeAttackWorld(world));

it(
  'install --progress=json reports verify progress up to the image parts total, then the result',
  async () => {
    const run = await runTmpl(world!.scenario, [
      'install',
      '--skip-start',
      '--progress=json',
      '--json',
      'fedora-progress',
    ]);
    expect(run.exitCode).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = lines.filter((l) => l.event === 'progress');
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(e.template).toBe('fedora-progress');
      expect(typeof e.stage).toBe('string');
      expect(typeof e.done).toBe('number');
    }
    const verify = events.filter((e) => e.stage === 'verify');
    const last = verify.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(lines.at(-1)).toMatchObject({
      command: 'install',
      ok: true,
      templates: [{ status: 'installed' }],
    });
  },
  RUN_TIMEOUT_MS,
);
