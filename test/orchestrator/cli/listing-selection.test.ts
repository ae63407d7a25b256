/** What list/info select, without a system: qvm-template's sections, specs, latest versions, upgrades. */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  listedAvailable,
  listedInstalled,
  listingNeedsRepos,
  selectListing,
  type ListingFlags,
} from '../../../orchestrator/cli/listing-selection.ts';
import { candidate, installed } from '../../helpers/listing-fixtures.ts';

const NONE: ListingFlags = {
  all: false,
  installed: false,
  available: false,
  extras: false,
  upgrades: false,
  allVersions: false,
};

const LISTING = [
  candidate('fedora-42', '4.2.0-2'),
  candidate('fedora-42', '4.2.0-3', 'qubes-templates-itl-testing'),
  candidate('fedora-42', '4.2.0-3'),
  candidate('debian-13', '4.3.0-1'),
  candidate('archlinux', '1.0-1', 'qubes-templates-community'),
];

describe('listingNeedsRepos', () => {
  it('asks the repositories unless only installed templates are listed', () => {
    expect(listingNeedsRepos(NONE)).toBe(true);
    expect(listingNeedsRepos({ ...NONE, installed: true })).toBe(false);
    expect(listingNeedsRepos({ ...NONE, installed: true, upgrades: true })).toBe(true);
    expect(listingNeedsRepos({ ...NONE, installed: true, all: true })).toBe(true);
  });
});

describe('listedAvailable', () => {
  it('keeps the latest of each template (a stable repository wins a tie), sorted by name', () => {
    const latest = listedAvailable(LISTING, [], false);
    expect(latest.map((c) => [c.templateName, c.release, c.repoid])).toEqual([
      ['archlinux', '1', 'qubes-templates-community'],
      ['debian-13', '1', 'qubes-templates-itl'],
      ['fedora-42', '3', 'qubes-templates-itl'],
    ]);
  });

  it('with all versions keeps every one, oldest first within a template; specs narrow it', () => {
    const all = listedAvailable(LISTING, ['fedora-*'], true);
    expect(all.map((c) => `${c.release}@${c.repoid}`)).toEqual([
      '2@qubes-templates-itl',
      '3@qubes-templates-itl-testing',
      '3@qubes-templates-itl',
    ]);
  });
});

describe('listedInstalled', () => {
  it('keeps managed templates that a spec names', () => {
    const local = [
      installed('fedora-42', '4.2.0-2'),
      installed('mine', '1-1', false),
      installed('debian-13', '4.3.0-1'),
    ];
    expect(listedInstalled(local, []).map((t) => t.name)).toEqual(['fedora-42', 'debian-13']);
    expect(listedInstalled(local, ['debian*']).map((t) => t.name)).toEqual(['debian-13']);
  });
});

describe('selectListing', () => {
  const local = [installed('fedora-42', '4.2.0-2'), installed('whonix-17', '1-1')];
  const remote = listedAvailable(LISTING, [], false);

  it('with no flag lists installed then available rows', () => {
    const rows = selectListing(NONE, local, remote);
    expect(rows.map((r) => `${r.status}:${r.name}`)).toEqual([
      'installed:fedora-42',
      'installed:whonix-17',
      'available:archlinux',
      'available:debian-13',
      'available:fedora-42',
    ]);
    // A repository row carries the download size and the build time as Qubes writes dates.
    expect(rows[2]).toMatchObject({
      size: 2048,
      buildtime: '2023-11-14 22:13:20',
      reponame: 'qubes-templates-community',
    });
    // An installed row's description has its newlines back; its size is the disk use, if known.
    expect(rows[0]).toMatchObject({ description: 'line one\nline two', size: '' });
  });

  it('extras are installed templates in no repository; upgrades are higher available versions', () => {
    const rows = selectListing({ ...NONE, extras: true, upgrades: true }, local, remote);
    expect(rows.map((r) => `${r.status}:${r.name}:${r.release}`)).toEqual([
      'extra:whonix-17:1',
      'upgradable:fedora-42:3',
    ]);
  });

  it('puts the disk use given for info on installed rows', () => {
    const rows = selectListing({ ...NONE, installed: true }, local, [], new Map([['fedora-42', 4096]]));
    expect(rows.map((r) => r.size)).toEqual([4096, '']);
  });

  it('refuses an empty listing with template.not-found', () => {
    let error: unknown;
    try {
      selectListing({ ...NONE, upgrades: true }, [installed('whonix-17', '1-1')], remote);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrchestratorError);
    expect((error as OrchestratorError).code).toBe('template.not-found');
  });
});
