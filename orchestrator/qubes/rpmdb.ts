/**
 * dom0's rpm database, where the old rpm-based tooling recorded installed templates
 * (`qubes-template-NAME` packages). It is dom0's own trusted state; TMPL_RPM_DBPATH selects
 * another one (tests). Read with a query format whose separators a field cannot hold by chance.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OrchestratorError } from '../errors.ts';

const FIELD = '|@tmpl@|';
const RECORD = '|@tmpl-end@|\n';
const FIELDS = [
  'NAME',
  'EPOCHNUM',
  'VERSION',
  'RELEASE',
  'BUILDTIME',
  'INSTALLTIME',
  'LICENSE',
  'URL',
  'SUMMARY',
  'DESCRIPTION',
] as const;

/** The prefix of a template package's name; the rest is the template's name. */
export const TEMPLATE_PACKAGE_PREFIX = 'qubes-template-';

export interface RpmdbPackage {
  readonly name: string;
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
  readonly buildtime: number;
  readonly installtime: number;
  readonly license: string;
  readonly url: string;
  readonly summary: string;
  readonly description: string;
}

/** The `rpm --qf` format that parseRpmdbQuery reads. */
export const RPMDB_QUERY_FORMAT = FIELDS.map((f) => `%{${f}}`).join(FIELD) + RECORD;

function rpmArgs(env: NodeJS.ProcessEnv): string[] {
  return env.TMPL_RPM_DBPATH ? ['--dbpath', env.TMPL_RPM_DBPATH] : [];
}

/** `rpm -qa --qf RPMDB_QUERY_FORMAT` output as packages; a record with other fields is refused. */
export function parseRpmdbQuery(stdout: string): RpmdbPackage[] {
  return stdout
    .split(RECORD)
    .filter((r) => r !== '')
    .map((record) => {
      const f = record.split(FIELD);
      if (f.length !== FIELDS.length)
        throw new OrchestratorError('qubes.exception', 'unexpected rpm query output');
      const [name, epoch, version, release, buildtime, installtime, license, url, summary, description] =
        f as [string, string, string, string, string, string, string, string, string, string];
      const times = { buildtime: Number(buildtime), installtime: Number(installtime) };
      return { name, epoch, version, release, ...times, license, url, summary, description };
    });
}

/** The template packages the rpm database records. */
export async function templatePackages(env: NodeJS.ProcessEnv): Promise<RpmdbPackage[]> {
  const query = [...rpmArgs(env), '-qa', '--qf', RPMDB_QUERY_FORMAT, `${TEMPLATE_PACKAGE_PREFIX}*`];
  const { stdout } = await promisify(execFile)('rpm', query, { maxBuffer: 64 * 1024 * 1024 });
  return parseRpmdbQuery(stdout);
}

/** Drops packages from the database only (`rpm -e --justdb`): no files, no scriptlets. */
export async function dropFromRpmdb(env: NodeJS.ProcessEnv, packages: readonly string[]): Promise<void> {
  const erase = ['-e', '--justdb', '--noscripts', '--nodeps', ...packages];
  await promisify(execFile)('rpm', [...rpmArgs(env), ...erase]);
}
