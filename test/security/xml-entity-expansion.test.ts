/**
 * XML entity attacks on repository metadata ("billion laughs" exponential expansion, external
 * entities reading local files, CWE-776/CWE-611). The worker's XML reader has no DTD support:
 * a DOCTYPE or ENTITY declaration is refused on the raw bytes, before any parsing, in repomd.xml,
 * primary.xml (whatever its compression) and metalinks alike.
 *
 * Not a defineAttack file: the refusal is the worker's XML reader's, in the disposable, before
 * the orchestrator sees anything; it is tested here on the reader itself with many documents,
 * which a tmpl run per document through the simulator would not add to.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseMetalink } from '../../dispvm-worker/metalink.ts';
import { readPrimary } from '../../dispvm-worker/primary.ts';
import { parseRepomd } from '../../dispvm-worker/repomd.ts';
import { ParseError } from '../../protocol/errors.ts';
import { parseErrorCode } from '../helpers/expect-error.ts';
import { metalinkXml, packageXml, primaryXml, repomdXml, sha256 } from '../helpers/rpm-md-documents.ts';

/** Ten levels of ten: 10^10 "lol"s if anything expanded it. */
function laughs(root: string): string {
  const entities = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return `<!DOCTYPE ${root} [${entities.join('')}]>`;
}

const external = (root: string): string => `<!DOCTYPE ${root} [<!ENTITY xxe SYSTEM "file:///etc/shadow">]>`;

const refusal = parseErrorCode;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('entity expansion is impossible in repository metadata', () => {
  it.each([
    ['billion laughs', laughs],
    ['external entity', external],
  ])('%s: repomd.xml, primary.xml and metalink are refused before parsing', async (_name, declare) => {
    const started = performance.now();
    const repomd = repomdXml()
      .replace('<repomd', `${declare('repomd')}<repomd`)
      .replace('1700000000', '&lol9;&xxe;');
    expect(refusal(() => parseRepomd(enc(repomd)))).toBe('xml.doctype');

    const primary = enc(
      primaryXml([packageXml({ description: '&lol9;&xxe;' })]).replace(
        '<metadata',
        `${declare('metadata')}<metadata`,
      ),
    );
    const gz = gzipSync(primary);
    const entry = {
      type: 'primary',
      locationHref: 'repodata/p.xml.gz',
      checksum: { type: 'sha256' as const, value: sha256(gz) },
    };
    const error = await readPrimary(gz, entry, 'r').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParseError);
    expect((error as ParseError).code).toBe('xml.doctype');

    const metalink = metalinkXml().replace('<metalink', `${declare('metalink')}<metalink`);
    expect(refusal(() => parseMetalink(enc(metalink)))).toBe('xml.doctype');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('an entity declaration smuggled without a DOCTYPE, or in a comment, is refused too', () => {
    expect(refusal(() => parseRepomd(enc(repomdXml().replace('<repomd', '<!ENTITY x "y"><repomd'))))).toBe(
      'xml.entity',
    );
    expect(
      refusal(() => parseRepomd(enc(repomdXml().replace('<repomd', '<!-- <!eNtItY x "y"> --><repomd')))),
    ).toBe('xml.entity');
  });

  it('references to undeclared entities are refused, not passed through', () => {
    expect(refusal(() => parseRepomd(enc(repomdXml().replace('1700000000', '&xxe;'))))).toBe('xml.reference');
  });
});
