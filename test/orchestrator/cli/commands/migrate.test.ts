import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../../orchestrator/qubes/admin-client.ts';
import { createTransport } from '../../../../orchestrator/qubes/admin-transport.ts';
import { resolveQubesEnvironment } from '../../../../orchestrator/qubes/environment.ts';
import { startSimulator, type Simulator } from '../../../../sim/simulator.ts';
import { buildRpm, FIXTURE_BUILDTIME } from '../../../helpers/rpm-fixtures.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../../..');

describe('tmpl migrate-from-rpmdb', () => {
  let dir: string;
  let sim: Simulator;
  let admin: AdminClient;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-migrate-'));
    sim = await startSimulator({ dir: path.join(dir, 'sim'), seed: true, qrexec: false });
    env = {
      ...sim.env,
      TMPL_RPM_DBPATH: path.join(dir, 'rpmdb'),
      TMPL_LOCK_FILE: path.join(dir, 'lock'),
      TMPL_RELEASEVER: '4.2',
    };
    admin = new AdminClient(createTransport(resolveQubesEnvironment(env)));
    await admin.createTemplate('legacy', 'black');
    for (const name of ['legacy', 'gone']) {
      const rpm = await buildRpm({
        dir,
        name: `qubes-template-${name}`,
        version: '4.1.0',
        release: '202301011200',
        files: [{ path: `/var/lib/qubes/vm-templates/${name}/template.conf`, content: '' }],
        summary: `Legacy ${name}`,
        description: 'line one\nline two',
        license: 'GPL-2.0-or-later',
        url: 'https://example.invalid/legacy',
        postScript: `touch ${dir}/scriptlet-ran`,
      });
      await run('rpm', ['--dbpath', env.TMPL_RPM_DBPATH!, '-i', '--justdb', '--noscripts', '--nodeps', rpm]);
    }
  }, 120_000);

  afterAll(async () => {
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run changes neither the features nor the rpm database', async () => {
    const { stdout } = await run(
      process.execPath,
      [path.join(root, 'bin/tmpl.mjs'), 'migrate-from-rpmdb', '--dry-run', '--json'],
      {
        env: { ...process.env, ...env },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, dryRun: true, migrated: ['legacy'] });
    expect(await admin.getFeature('legacy', 'template-name')).toBeUndefined();
    const { stdout: q } = await run('rpm', ['--dbpath', env.TMPL_RPM_DBPATH!, '-q', 'qubes-template-legacy']);
    expect(q).toContain('qubes-template-legacy-4.1.0');
  });

  it('moves the rpm record into template-* features and drops the packages from the rpm database', async () => {
    const { stdout } = await run(
      process.execPath,
      [path.join(root, 'bin/tmpl.mjs'), 'migrate-from-rpmdb', '--json'],
      {
        env: { ...process.env, ...env },
      },
    );
    const result = JSON.parse(stdout);
    expect(result.migrated).toEqual(['legacy']);
    expect([...result.dropped].sort()).toEqual(['qubes-template-gone', 'qubes-template-legacy']);
    const features = await admin.getFeatures('legacy');
    expect(features.get('template-name')).toBe('legacy');
    expect(features.get('template-version')).toBe('4.1.0');
    expect(features.get('template-release')).toBe('202301011200');
    expect(features.get('template-reponame')).toBe('@commandline');
    expect(features.get('template-buildtime')).toBe(
      new Date(FIXTURE_BUILDTIME * 1000).toISOString().replace('T', ' ').slice(0, 19),
    );
    expect(features.get('template-description')).toBe('line one|line two');
    expect((await admin.getProperty('legacy', 'installed_by_rpm')).value).toBe('False');
    await expect(
      run('rpm', ['--dbpath', env.TMPL_RPM_DBPATH!, '-q', 'qubes-template-legacy']),
    ).rejects.toThrow();
  });
});
