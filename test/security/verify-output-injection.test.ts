/**
 * Attack: a validly signed package whose header strings (PAYLOADCOMPRESSOR, NAME, SUMMARY,
 * DESCRIPTION) and whose file name carry terminal escapes (ESC[2J clears the screen, OSC sets
 * the title, C1 CSI) and line breaks, so that `tmpl verify` prints them raw and forges a
 * verdict line such as "other.rpm: digests signatures OK". Every verdict is one line with each
 * dangerous character escaped; --json messages are single lines too.
 *
 * Not a defineAttack file: `tmpl verify` reads local files and touches no Qubes, so there is no
 * simulated system to leave untouched; the attack is on the terminal, checked line by line.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSigningKey, writeRpm, type RpmPackageSpec } from '../../sim/forge/index.ts';
import { runTmplAlone, type TmplRun } from '../helpers/kit/index.ts';

/** What a terminal must never see raw: C0/C1 controls, DEL, separators and format characters. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const FORGED = '\x1b[2J\x1b]0;owned\x07\nforged.rpm: digests signatures OK\u202e';

let dir: string;
let keyPath: string;
/** Signed, with a hostile PAYLOADCOMPRESSOR and hostile name, summary and description. */
let badCompressor: string;
/** Signed and valid, under a file name with an escape and a newline. */
let badFileName: string;

function spec(name: string): RpmPackageSpec {
  return {
    name,
    version: '4.2.0',
    release: '1',
    summary: `summary ${FORGED}`,
    description: `description ${FORGED}\x9b2J`,
    license: 'GPL-2.0-or-later',
    buildtime: 1_767_225_600,
    compressor: 'gzip',
    files: [{ path: '/var/lib/qubes/vm-templates/evil/template.conf', kind: 'file', content: 'x\n' }],
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tmpl-sec-verify-out-'));
  const key = await generateSigningKey('Hostile Packager');
  keyPath = path.join(dir, 'packager.asc');
  await writeFile(keyPath, key.publicKeyArmored);
  badCompressor = path.join(dir, 'bad-compressor.rpm');
  await writeRpm(spec(`qubes-template-evil\x1b[2J`), {
    outPath: badCompressor,
    signingKey: key,
    mutations: { payloadCompressor: `gzip${FORGED}` },
  });
  badFileName = path.join(dir, 'evil\x1b[2J\nforged.rpm: digests signatures OK.rpm');
  await writeRpm(spec('qubes-template-evil'), { outPath: badFileName, signingKey: key });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function verify(...args: string[]): Promise<TmplRun> {
  return runTmplAlone(['verify', '--keyring', keyPath, ...args]);
}

it('header strings and file names reach the terminal escaped, one verdict line per package', async () => {
  const human = await verify(badCompressor, badFileName);
  expect(human.exitCode).toBe(1);
  for (const line of human.stdout.split('\n')) expect(RAW.test(line), JSON.stringify(line)).toBe(false);
  const lines = human.stdout.split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(2);
  const reason =
    'rpm.info.payload-compressor: unknown payload compressor ' +
    '"gzip\\x1b[2J\\x1b]0;owned\\x07\\nforged.rpm: digests signatures OK\\u202e" (at byte ';
  expect(lines[0]!.startsWith(`${badCompressor}: digests signatures NOT OK (${reason}`), lines[0]).toBe(true);
  expect(lines[0]).toMatch(/ \(at byte \d+\)\)$/);
  expect(lines[1]).toBe(`${dir}/evil\\x1b[2J\\nforged.rpm: digests signatures OK.rpm: digests signatures OK`);
  expect(human.stderr).toBe('');

  // Digests only, and --json: every message one line, the stable code kept.
  const json = await verify('--nogpgcheck', '--json', badCompressor);
  expect(json.exitCode).toBe(1);
  expect(json.stdout.trimEnd().split('\n')).toHaveLength(1);
  const out = JSON.parse(json.stdout) as {
    ok: boolean;
    error: { code: string; message: string };
    packages: { ok: boolean; error: { code: string; message: string } }[];
  };
  expect(out.ok).toBe(false);
  expect(out.error.code).toBe('rpm.info.payload-compressor');
  expect(out.packages[0]!.error.code).toBe('rpm.info.payload-compressor');
  const message = out.packages[0]!.error.message;
  expect(
    message.startsWith(
      'unknown payload compressor "gzip\\x1b[2J\\x1b]0;owned\\x07\\nforged.rpm: digests signatures OK\\u202e" (at byte ',
    ),
    message,
  ).toBe(true);
  for (const message of [out.error.message, out.packages[0]!.error.message])
    expect(RAW.test(message)).toBe(false);
});
