/** Planning migrate-from-rpmdb without a system: who is migrated, what is dropped, which features. */
import { describe, expect, it } from 'vitest';
import type { RpmdbPackage } from '../../../orchestrator/qubes/rpmdb.ts';
import { migrationFeatures, planMigration } from '../../../orchestrator/transaction/rpmdb-migration.ts';

function pkg(template: string): RpmdbPackage {
  return {
    name: `qubes-template-${template}`,
    epoch: '1',
    version: '4.1.0',
    release: '2',
    buildtime: 1700000000,
    installtime: 1700000100,
    license: 'GPL',
    url: 'https://x.invalid',
    summary: 'Säker',
    description: 'one\ntwo',
  };
}

describe('planMigration', () => {
  it('migrates templates that exist and are not managed; drops every package', () => {
    const plan = planMigration(
      [pkg('legacy'), pkg('gone'), pkg('managed')],
      new Set(['legacy', 'managed']),
      new Set(['managed']),
    );
    expect(plan.migrate.map((m) => m.template)).toEqual(['legacy']);
    expect(plan.dropped).toEqual(['qubes-template-legacy', 'qubes-template-gone', 'qubes-template-managed']);
  });
});

describe('migrationFeatures', () => {
  it('writes qvm-template features: the name, EVR, @commandline, Qubes dates, printable values', () => {
    expect(Object.fromEntries(migrationFeatures('legacy', pkg('legacy')))).toEqual({
      'template-name': 'legacy',
      'template-epoch': '1',
      'template-version': '4.1.0',
      'template-release': '2',
      'template-reponame': '@commandline',
      'template-buildtime': '2023-11-14 22:13:20',
      'template-installtime': '2023-11-14 22:15:00',
      'template-license': 'GPL',
      'template-url': 'https://x.invalid',
      'template-summary': 'S?ker',
      'template-description': 'one|two',
    });
  });
});
