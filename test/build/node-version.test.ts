/**
 * The Node.js versions tmpl supports (package.json engines: 20 and 22) are the ones the suite runs
 * on: CI runs it on Node 20 and a part of it again on Node 22 (scripts/node22.mjs, which sets
 * TMPL_TEST_NODE). That run must really be on Node 22 all the way down: the test workers, `node`
 * on PATH (test helpers run reference scripts through it) and the tmpl processes spawned; the
 * simulator's VMs are held to it by test/sim/qrexec-sandbox.test.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const engines = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node;

/** The major versions an engines range of `^N.0.0` alternatives admits. */
function supportedMajors(range: string): number[] {
  return range.split('||').map((part) => {
    const match = /^\s*\^(\d+)\.0\.0\s*$/.exec(part);
    if (!match) throw new Error(`engines: unexpected range ${part}`);
    return Number(match[1]);
  });
}

describe('supported Node.js versions', () => {
  it('package.json engines admits exactly Node 20 and 22', () => {
    expect(supportedMajors(engines)).toEqual([20, 22]);
  });

  it('the suite runs on a Node version engines admits', () => {
    expect(supportedMajors(engines)).toContain(Number(process.versions.node.split('.')[0]));
  });

  it('the workers, `node` on PATH and the spawned tmpl run the Node the run asked for (TMPL_TEST_NODE, else this one)', async () => {
    const wanted = process.env.TMPL_TEST_NODE ?? process.version;
    expect(process.version).toBe(wanted);
    const onPath = await run('node', ['-p', 'process.version']);
    expect(onPath.stdout.trim()).toBe(wanted);
    const tmpl = await run(process.execPath, [path.join(ROOT, 'bin/tmpl.mjs'), '--version', '--json']);
    expect(JSON.parse(tmpl.stdout)).toMatchObject({ ok: true, node: wanted });
  });
});
