import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_METADATA_EXPIRE_SECONDS,
  DEFAULT_METADATA_MAX_AGE_SECONDS,
  expandRepoFilePaths,
  loadRepoConfig,
  parseRepoFile,
  substituteVariables,
  type RepoDefinition,
} from '../../../orchestrator/repos/repo-config.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'qubes-templates.repo');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Debian's python3-dnf lives in the system interpreter. */
const SYSTEM_PYTHON = '/usr/bin/python3';

/** dnf's own reading of a repos directory, through its Python API (dnf.Base.read_all_repos). */
const DNF_DUMP = `
import json, sys
import dnf
conf = dnf.conf.Conf()
conf.config_file_path = '/dev/null'
conf.substitutions['releasever'] = sys.argv[2]
conf.substitutions['basearch'] = 'x86_64'
conf.substitutions['arch'] = 'x86_64'
conf.reposdir = [sys.argv[1]]
base = dnf.Base(conf)
base.read_all_repos()
out = []
for r in sorted(base.repos.values(), key=lambda r: r.id):
    out.append(dict(id=r.id, name=r.name, enabled=bool(r.enabled), baseurls=list(r.baseurl),
        metalink=r.metalink or None, mirrorlist=r.mirrorlist or None, gpgcheck=bool(r.gpgcheck),
        repoGpgcheck=bool(r.repo_gpgcheck), gpgkeys=list(r.gpgkey), metadataExpire=r.metadata_expire,
        sslverify=bool(r.sslverify), sslcacert=r.sslcacert or None, sslclientcert=r.sslclientcert or None,
        sslclientkey=r.sslclientkey or None))
json.dump(out, sys.stdout)
`;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tmpl-repo-config-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function dnfReading(files: Record<string, string>, releasever: string): Promise<unknown[]> {
  const dir = await mkdtemp(path.join(work, 'reposd-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const { stdout } = await execa(SYSTEM_PYTHON, ['-c', DNF_DUMP, dir, releasever], {
    env: { LC_ALL: 'C.UTF-8' },
  });
  return JSON.parse(stdout) as unknown[];
}

/** Our definition in the shape of the dnf dump (absent options as null, no source file). */
function comparable(r: RepoDefinition): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    baseurls: r.baseurls,
    metalink: r.metalink ?? null,
    mirrorlist: r.mirrorlist ?? null,
    gpgcheck: r.gpgcheck,
    repoGpgcheck: r.repoGpgcheck,
    gpgkeys: r.gpgkeys,
    metadataExpire: r.metadataExpire,
    sslverify: r.sslverify,
    sslcacert: r.sslcacert ?? null,
    sslclientcert: r.sslclientcert ?? null,
    sslclientkey: r.sslclientkey ?? null,
  };
}

const TRICKY = `
[main]
gpgcheck=1

[a-$releasever]
name = A repo: tabs\tand spaces
baseurl=https://a.example/r$releasever/x,https://b.example/\${releasever}/y
  https://c.example/z
\thttps://d.example/$basearch ,  https://e.example/
gpgkey=file:///etc/k1 https://k.example/k2
enabled=off
metadata_expire=2h
sslverify=No
sslcacert=/etc/ca-$releasever.pem
sslclientcert=/etc/cert.pem
sslclientkey=/etc/key.pem
GPGCHECK=1
repo_gpgcheck=True
# comment
; comment
gpgcheck = 0
gpgcheck = yes

[b]
mirrorlist=https://m.example/list?r=$releasever&arch=$basearch
metadata_expire=never
[c]
baseurl=file:///srv/repo
metadata_expire=90
unknown_option=whatever
`;

describe('parseRepoFile agrees with dnf', () => {
  it('reads the Qubes template repository file as dnf does', async () => {
    const ours = parseRepoFile(await readFile(FIXTURE), FIXTURE, { releasever: '4.2' });
    expect(ours.map((r) => r.id)).toEqual([
      'qubes-templates-itl',
      'qubes-templates-itl-testing',
      'qubes-templates-community',
      'qubes-templates-community-testing',
    ]);
    expect(ours[0]).toMatchObject({
      enabled: true,
      gpgcheck: true,
      repoGpgcheck: false,
      metalink: 'https://yum.qubes-os.org/r4.2/templates-itl/repodata/repomd.xml.metalink',
      gpgkeys: ['file:///etc/qubes/repo-templates/keys/RPM-GPG-KEY-qubes-4.2-primary'],
      metadataExpire: 7 * 86400,
    });
    const dnf = await dnfReading({ 'qubes-templates.repo': await readFile(FIXTURE, 'utf8') }, '4.2');
    expect(ours.map(comparable).sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual(dnf);
  });

  it('reads lists, continuation lines, booleans, durations and case-sensitive keys as dnf does', async () => {
    const ours = parseRepoFile(enc(TRICKY), 'tricky.repo', { releasever: '4.3' });
    const dnf = await dnfReading({ 'tricky.repo': TRICKY }, '4.3');
    expect(ours.map(comparable)).toEqual(dnf);
    expect(ours[0]!.baseurls).toHaveLength(5);
    expect(ours.find((r) => r.id === 'c')!.metadataExpire).toBe(90);
  });

  it('accepts a comment after a section header, as libdnf does since 0.70', () => {
    const repos = parseRepoFile(enc('[c]  ; why\nbaseurl=https://c.example/\n[d] # why\n'), 'c.repo', {
      releasever: '4.2',
    });
    expect(repos.map((r) => r.id)).toEqual(['c', 'd']);
  });

  it('uses dnf defaults for absent options', () => {
    const [repo] = parseRepoFile(enc('[x]\nbaseurl=https://x.example/\n'), 'x.repo', { releasever: '4.2' });
    expect(repo).toEqual({
      id: 'x',
      name: 'x',
      enabled: true,
      baseurls: ['https://x.example/'],
      gpgcheck: false,
      repoGpgcheck: false,
      gpgkeys: [],
      metadataExpire: DEFAULT_METADATA_EXPIRE_SECONDS,
      metadataMaxAge: DEFAULT_METADATA_MAX_AGE_SECONDS,
      metadataMaxAgeAction: 'warn',
      sslverify: true,
      file: 'x.repo',
    });
  });
});

describe('metadata_max_age and metadata_max_age_action (tmpl options)', () => {
  const read = (lines: string): RepoDefinition =>
    parseRepoFile(enc(`[x]\nbaseurl=https://x.example/\n${lines}`), 'x.repo', { releasever: '4.2' })[0]!;

  it.each([
    ['1209600', 1209600],
    ['336h', 336 * 3600],
    ['14d', 14 * 86400],
    ['2w', 14 * 86400],
    ['2W', 14 * 86400],
    ['90m', 5400],
    ['30s', 30],
    ['never', null],
    ['Never', null],
  ])('metadata_max_age=%s is %s seconds', (value, seconds) => {
    expect(read(`metadata_max_age=${value}\n`).metadataMaxAge).toBe(seconds);
  });

  it.each(['0', '0d', '-1', '1.5d', '2 w', '2y', 'w', '', '9999999999w', '14d,', 'off'])(
    'metadata_max_age=%s is refused (repo-config.max-age)',
    (value) => {
      expect(() => read(`metadata_max_age=${value}\n`)).toThrow(
        expect.objectContaining({ code: 'repo-config.max-age' }),
      );
    },
  );

  it('metadata_max_age_action is warn or refuse, nothing else', () => {
    expect(read('metadata_max_age_action=refuse\n').metadataMaxAgeAction).toBe('refuse');
    expect(read('metadata_max_age_action=WARN\n').metadataMaxAgeAction).toBe('warn');
    for (const bad of ['', 'strict', 'yes', '1'])
      expect(() => read(`metadata_max_age_action=${bad}\n`)).toThrow(
        expect.objectContaining({ code: 'repo-config.max-age-action' }),
      );
  });
});

describe('substituteVariables (libdnf ConfigParser::substitute)', () => {
  const vars = new Map([
    ['releasever', '4.2'],
    ['releasever_major', '4'],
    ['empty', ''],
  ]);
  it.each([
    ['r$releasever/x', 'r4.2/x'],
    ['r${releasever}x', 'r4.2x'],
    ['$releasever_major', '4'],
    ['$unknown/${unknown}', '$unknown/${unknown}'],
    ['${unknown:-fallback}', 'fallback'],
    ['${empty:-fallback}', 'fallback'],
    ['${releasever:-fallback}', '4.2'],
    ['${releasever:+set}', 'set'],
    ['${unknown:+set}', ''],
    ['${unknown:-a${releasever}b}', 'a4.2b'],
    ['\\$releasever', '$releasever'],
    ['$', '$'],
    ['${releasever', '${releasever'],
    ['${unknown:-unterminated $releasever', '${unknown:-unterminated $releasever'],
    ['trailing\\', 'trailing\\'],
  ])('%s -> %s', (input, output) => {
    expect(substituteVariables(input, vars)).toBe(output);
  });
});

describe('loadRepoConfig', () => {
  it('expands globs in the file name, sorted, skipping hidden files, and reads every file', async () => {
    const dir = path.join(work, 'glob');
    await mkdir(dir);
    await writeFile(path.join(dir, 'b.repo'), '[b]\nbaseurl=https://b.example/\n');
    await writeFile(path.join(dir, 'a.repo'), '[a]\nbaseurl=https://a.example/\n');
    await writeFile(path.join(dir, '.hidden.repo'), '[hidden]\nbaseurl=https://h.example/\n');
    await writeFile(path.join(dir, 'notes.txt'), 'not a repo file');
    expect(await expandRepoFilePaths([path.join(dir, '*.repo')])).toEqual([
      path.join(dir, 'a.repo'),
      path.join(dir, 'b.repo'),
    ]);
    const repos = await loadRepoConfig({ releasever: '4.2' }, [path.join(dir, '*.repo'), FIXTURE]);
    expect(repos.map((r) => r.id)).toEqual([
      'a',
      'b',
      'qubes-templates-itl',
      'qubes-templates-itl-testing',
      'qubes-templates-community',
      'qubes-templates-community-testing',
    ]);
    expect(repos[0]!.file).toBe(path.join(dir, 'a.repo'));
    expect(await loadRepoConfig({ releasever: '4.2' }, [path.join(work, 'nothing-here', '*.repo')])).toEqual(
      [],
    );
  });
});
