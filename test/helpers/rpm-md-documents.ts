/**
 * Generators of rpm-md documents shaped like createrepo_c's and MirrorManager's output, for the
 * malformed-input tests: each test starts from a valid document and breaks one thing.
 */
import { createHash } from 'node:crypto';

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

export interface DataEntryOptions {
  type?: string;
  href?: string;
  checksum?: string;
  checksumType?: string;
  openChecksum?: string;
  size?: number | string;
  openSize?: number | string;
  extra?: string;
}

export function dataEntry(o: DataEntryOptions = {}): string {
  const type = o.type ?? 'primary';
  const checksum = o.checksum ?? 'a'.repeat(64);
  return [
    `  <data type="${type}">`,
    `    <checksum type="${o.checksumType ?? 'sha256'}">${checksum}</checksum>`,
    ...(o.openChecksum !== undefined
      ? [`    <open-checksum type="sha256">${o.openChecksum}</open-checksum>`]
      : []),
    `    <location href="${o.href ?? `repodata/${checksum}-${type}.xml.gz`}"/>`,
    '    <timestamp>1700000000</timestamp>',
    `    <size>${o.size ?? 123}</size>`,
    ...(o.openSize !== undefined ? [`    <open-size>${o.openSize}</open-size>`] : []),
    ...(o.extra !== undefined ? [o.extra] : []),
    '  </data>',
  ].join('\n');
}

export function repomdXml(entries: readonly string[] = [dataEntry()], head = ''): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    head,
    '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
    '  <revision>1700000000</revision>',
    ...entries,
    '</repomd>',
    '',
  ].join('\n');
}

export interface PackageOptions {
  name?: string;
  epoch?: string | null;
  ver?: string;
  rel?: string;
  arch?: string;
  checksumType?: string;
  checksum?: string;
  summary?: string;
  description?: string;
  url?: string;
  build?: string;
  size?: string;
  href?: string;
  locationExtra?: string;
  license?: string;
  extra?: string;
  type?: string;
}

export function packageXml(o: PackageOptions = {}): string {
  const name = o.name ?? 'qubes-template-fedora-41';
  const ver = o.ver ?? '4.2.0';
  const rel = o.rel ?? '202501010000';
  const epoch = o.epoch === null ? '' : ` epoch="${o.epoch ?? '0'}"`;
  return `<package type="${o.type ?? 'rpm'}">
  <name>${name}</name>
  <arch>${o.arch ?? 'noarch'}</arch>
  <version${epoch} ver="${ver}" rel="${rel}"/>
  <checksum type="${o.checksumType ?? 'sha256'}" pkgid="YES">${o.checksum ?? 'b'.repeat(64)}</checksum>
  <summary>${o.summary ?? 'A template'}</summary>
  <description>${o.description ?? 'Described.'}</description>
  <packager></packager>
  <url>${o.url ?? 'https://www.qubes-os.org/'}</url>
  <time file="1700000000" build="${o.build ?? '1700000001'}"/>
  <size package="${o.size ?? '1234'}" installed="0" archive="288"/>
  <location href="${o.href ?? `${name}-${ver}-${rel}.noarch.rpm`}"${o.locationExtra ?? ''}/>
  <format>
    <rpm:license>${o.license ?? 'GPLv2+'}</rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:provides>
      <rpm:entry name="${name}" flags="EQ" epoch="0" ver="${ver}" rel="${rel}"/>
    </rpm:provides>
  </format>${o.extra ?? ''}
</package>`;
}

export function primaryXml(
  packages: readonly string[] = [packageXml()],
  count: number | null = packages.length,
): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm"${count === null ? '' : ` packages="${count}"`}>`,
    ...packages,
    '</metadata>',
    '',
  ].join('\n');
}

export interface MetalinkUrl {
  url: string;
  protocol?: string;
  preference?: string;
  location?: string;
}

export function metalinkXml(
  o: {
    hashes?: Record<string, string>;
    size?: number;
    alternates?: { hashes: Record<string, string>; size?: number }[];
    urls?: MetalinkUrl[];
    fileName?: string;
    extraFile?: string;
  } = {},
): string {
  const verification = (hashes: Record<string, string>): string =>
    `<verification>${Object.entries(hashes)
      .map(([t, v]) => `<hash type="${t}">${v}</hash>`)
      .join('')}</verification>`;
  const urls = o.urls ?? [{ url: 'https://mirror.example/r4.2/templates-itl/repodata/repomd.xml' }];
  return `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Sun, 01 Jan 2026 00:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="${o.fileName ?? 'repomd.xml'}">
   <mm0:timestamp>1700000000</mm0:timestamp>
   ${o.size !== undefined ? `<size>${o.size}</size>` : ''}
   ${verification(o.hashes ?? { md5: 'c'.repeat(32), sha256: 'd'.repeat(64) })}
   <mm0:alternates>${(o.alternates ?? [])
     .map(
       (a) =>
         `<mm0:alternate><mm0:timestamp>1690000000</mm0:timestamp>${a.size !== undefined ? `<size>${a.size}</size>` : ''}${verification(a.hashes)}</mm0:alternate>`,
     )
     .join('')}</mm0:alternates>
   <resources maxconnections="1">
${urls
  .map(
    (u) =>
      `    <url protocol="${u.protocol ?? new URL(u.url).protocol.slice(0, -1)}" type="${u.protocol ?? 'https'}"${u.location !== undefined ? ` location="${u.location}"` : ''} preference="${u.preference ?? '100'}">${u.url}</url>`,
  )
  .join('\n')}
   </resources>
  </file>${o.extraFile ?? ''}
 </files>
</metalink>
`;
}
