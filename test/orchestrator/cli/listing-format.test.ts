/** list/info output in qvm-template's formats, from rows, without a system. */
import { describe, expect, it } from 'vitest';
import { formatListing, listingFormat, sizeToHuman } from '../../../orchestrator/cli/listing-format.ts';
import { selectListing } from '../../../orchestrator/cli/listing-selection.ts';
import { candidate, installed } from '../../helpers/listing-fixtures.ts';

const FLAGS = {
  all: true,
  installed: false,
  available: false,
  extras: false,
  upgrades: false,
  allVersions: false,
};
const ROWS = selectListing(FLAGS, [installed('fedora-42', '4.2.0-2')], [candidate('debian-13', '4.3.0-1')]);
const WARNINGS = [{ code: 'repo.entry-skipped', repoid: 'r', message: 'm' }] as const;

describe('listingFormat', () => {
  it('--machine-readable wins over -json, which wins over --json', () => {
    const f = (machineReadable: boolean, machineReadableJson: boolean, json: boolean) =>
      listingFormat({ machineReadable, machineReadableJson, json });
    expect([
      f(true, true, true),
      f(false, true, true),
      f(false, false, true),
      f(false, false, false),
    ]).toEqual(['machine-readable', 'machine-readable-json', 'json', 'table']);
  });
});

describe('formatListing', () => {
  it('list: a title per section and aligned name, EVR, repository columns', () => {
    expect(formatListing('list', ROWS, 'table', [])).toBe(
      'Installed Templates\nfedora-42  0:4.2.0-2  qubes-templates-itl\n' +
        'Available Templates\ndebian-13  0:4.3.0-1  qubes-templates-itl\n',
    );
  });

  it('list --machine-readable: status|name|evr|repo lines', () => {
    expect(formatListing('list', ROWS, 'machine-readable', [])).toBe(
      'installed|fedora-42|0:4.2.0-2|qubes-templates-itl\navailable|debian-13|0:4.3.0-1|qubes-templates-itl\n',
    );
  });

  it('info --machine-readable: a bar inside a field becomes ?, the description keeps its bars', () => {
    const [row] = ROWS;
    const out = formatListing('info', [{ ...row!, license: 'MIT | GPL' }], 'machine-readable', []);
    expect(out.trimEnd().split('|')).toEqual([
      'installed',
      'fedora-42',
      '0',
      '4.2.0',
      '2',
      'qubes-templates-itl',
      '',
      '2023-11-14 22:13:20',
      '2024-01-01 00:00:00',
      'MIT ? GPL',
      'https://example.invalid',
      'fedora-42 summary',
      'line one',
      'line two',
    ]);
  });

  it('--machine-readable-json is the plain object; --json wraps it with the warnings', () => {
    const plain = JSON.parse(formatListing('list', ROWS, 'machine-readable-json', WARNINGS));
    expect(plain).toEqual({
      installed: [{ name: 'fedora-42', evr: '0:4.2.0-2', reponame: 'qubes-templates-itl' }],
      available: [{ name: 'debian-13', evr: '0:4.3.0-1', reponame: 'qubes-templates-itl' }],
    });
    const wrapped = JSON.parse(formatListing('list', ROWS, 'json', WARNINGS));
    expect(wrapped).toEqual({ command: 'list', ok: true, ...plain, warnings: WARNINGS });
  });

  it('info: field tables, the size in human units, one Description line per line', () => {
    const out = formatListing('info', [{ ...ROWS[1]!, size: 3 * 1024 * 1024 }], 'table', []);
    expect(out.split('\n')).toEqual([
      'Available Templates',
      'Name         :  debian-13',
      'Epoch        :  0',
      'Version      :  4.3.0',
      'Release      :  1',
      'Size         :  3.0 MiB',
      'Repository   :  qubes-templates-itl',
      'Buildtime    :  2023-11-14 22:13:20',
      'URL          :  https://example.invalid',
      'License      :  GPL-2.0-or-later',
      'Summary      :  debian-13 summary',
      'Description  :  line one',
      '             :  line two',
      // the blank row between templates, padded as column -t pads it
      ' '.repeat(17),
      '',
    ]);
  });

  it('a hostile summary stays on one escaped line', () => {
    const out = formatListing('list', [{ ...ROWS[0]!, name: 'evil\x1b[2J' }], 'table', []);
    expect(out).toContain('evil\\x1b[2J  ');
  });
});

describe('sizeToHuman', () => {
  it('is qubesadmin size_to_human', () => {
    expect([1023, 1024, 1536, 5 * 1024 ** 3].map(sizeToHuman)).toEqual([
      '1023',
      '1.0 KiB',
      '1.5 KiB',
      '5.0 GiB',
    ]);
  });
});
