/**
 * Template repositories made with the tools users trust: packages built with rpmbuild
 * (test/helpers/rpm-fixtures.ts), metadata with createrepo_c, repomd.xml signed with
 * `gpg --detach-sign --armor`, and listings read back with `dnf repoquery` using
 * qvm-template's query format.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildRpm, type BuildRpmOptions, type GpgKey, GPG_BATCH } from './rpm-fixtures.ts';

export type FixturePackage = Omit<BuildRpmOptions, 'dir' | 'files'>;

export interface FixtureRepo {
  readonly id: string;
  readonly dir: string;
}

/** qvm-template's query format (qubes.TemplateSearch); records end with '|\n'. */
export const QVM_TEMPLATE_QUERY_FORMAT =
  '%{name}|%{epoch}|%{version}|%{release}|%{repoid}|%{downloadsize}|%{buildtime}|%{license}|%{url}|%{summary}|%{description}|';

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Builds the packages into DIR and runs createrepo_c --no-database on it. */
export async function buildRepo(
  base: string,
  id: string,
  packages: readonly FixturePackage[],
): Promise<FixtureRepo> {
  const dir = path.join(base, id);
  await mkdir(dir, { recursive: true });
  // Two at a time: the machine has two cores.
  for (let i = 0; i < packages.length; i += 2) {
    await Promise.all(
      packages.slice(i, i + 2).map((p) =>
        buildRpm({
          ...p,
          dir,
          files: [{ path: `/var/lib/qubes/vm-templates/${p.name}/template.conf`, content: '' }],
        }),
      ),
    );
  }
  await execa('createrepo_c', ['--no-database', '--revision', '1', '--set-timestamp-to-revision', dir]);
  return { id, dir };
}

/** Writes repodata/repomd.xml.asc next to repomd.xml, as dnf expects for repo_gpgcheck=1. */
export async function signRepomd(repo: FixtureRepo, key: GpgKey): Promise<void> {
  await execa(
    'gpg',
    [
      ...GPG_BATCH,
      '--yes',
      '--local-user',
      key.fingerprint,
      '--detach-sign',
      '--armor',
      path.join(repo.dir, 'repodata', 'repomd.xml'),
    ],
    { env: { GNUPGHOME: key.gnupgHome } },
  );
}

export interface DnfRecord {
  readonly name: string;
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
  readonly repoid: string;
  readonly downloadsize: string;
  readonly buildtime: string;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
}

/**
 * `dnf repoquery` over the given repositories as qvm-template-repo-query runs it. Debian's
 * dnf.conf sets skip_if_unavailable=True, so it is forced off: a repository that fails must fail
 * the query. TZ=UTC fixes %{buildtime}'s local-time rendering.
 */
export async function dnfRepoquery(
  repos: readonly FixtureRepo[],
  options: { readonly repoGpgKey?: GpgKey; readonly spec?: string } = {},
): Promise<DnfRecord[]> {
  const sections = repos.map((r) =>
    [
      `[${r.id}]`,
      `name=${r.id}`,
      `baseurl=file://${r.dir}`,
      'gpgcheck=0',
      ...(options.repoGpgKey !== undefined
        ? ['repo_gpgcheck=1', `gpgkey=file://${options.repoGpgKey.publicKeyPath}`]
        : ['repo_gpgcheck=0']),
      '',
    ].join('\n'),
  );
  return dnfRepoqueryWithRepoFile(sections.join('\n'), options.spec);
}

/** `dnf repoquery` with the given .repo file text as its only configuration. */
export async function dnfRepoqueryWithRepoFile(repoFile: string, spec = '*'): Promise<DnfRecord[]> {
  const work = await makeTempDir('tmpl-dnf-');
  try {
    const reposdir = path.join(work, 'repos.d');
    await mkdir(reposdir);
    await writeFile(path.join(reposdir, 'fixture.repo'), repoFile);
    const { stdout } = await execa(
      'dnf',
      [
        '-y',
        '-q',
        `--setopt=reposdir=${reposdir}`,
        '--setopt=skip_if_unavailable=False',
        `--installroot=${path.join(work, 'root')}`,
        `--setopt=cachedir=${path.join(work, 'cache')}`,
        '--releasever=4.2',
        '--disableplugin=local',
        'repoquery',
        '--qf',
        QVM_TEMPLATE_QUERY_FORMAT,
        spec,
      ],
      { env: { TZ: 'UTC', LC_ALL: 'C.UTF-8' }, stripFinalNewline: false },
    );
    return stdout
      .split('|\n')
      .filter((r) => r !== '')
      .map((record) => {
        const f = record.split('|');
        if (f.length !== 11) throw new Error(`dnf record with ${f.length} fields: ${record}`);
        const [
          name,
          epoch,
          version,
          release,
          repoid,
          downloadsize,
          buildtime,
          license,
          url,
          summary,
          description,
        ] = f as [string, string, string, string, string, string, string, string, string, string, string];
        return {
          name,
          epoch,
          version,
          release,
          repoid,
          downloadsize,
          buildtime,
          license,
          url,
          summary,
          description,
        };
      });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** dnf's rendering of a build time: local time (UTC here) to the minute. */
export function dnfBuildtime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ');
}
