/**
 * Generated hostile repomd.xml bytes for the orchestrator's revision extraction: byte flips,
 * insertions of tag fragments, deletions and truncations of a real-looking repomd. Whatever the
 * bytes, the extraction either refuses them with 'metadata.revision' or returns the one
 * revision the bytes hold, and the newest of their timestamps.
 */
import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { extractRepomdVersion } from '../../../orchestrator/repos/repomd-evidence.ts';

const BASE = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<repomd xmlns="http://linux.duke.edu/metadata/repo">',
  '  <revision>1717171717</revision>',
  '  <data type="primary"><location href="repodata/p.xml.gz"/><timestamp>1717171000</timestamp></data>',
  '  <data type="other"><location href="repodata/o.xml.gz"/><timestamp>1717171500</timestamp></data>',
  '</repomd>',
  '',
].join('\n');
const FRAGMENTS = [
  '<revision>',
  '</revision>',
  '<timestamp>',
  '</timestamp>',
  '<!--',
  '<?',
  ':revision',
  '9',
  ' ',
  '\0',
];
const CASES = 2000;

/** mulberry32: a small seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, next: () => number): string {
  let out = text;
  const steps = 1 + Math.floor(next() * 3);
  for (let i = 0; i < steps; i++) {
    const at = Math.floor(next() * (out.length + 1));
    const kind = Math.floor(next() * 4);
    if (kind === 0)
      out = out.slice(0, at) + String.fromCharCode(Math.floor(next() * 256)) + out.slice(at + 1);
    else if (kind === 1)
      out = out.slice(0, at) + FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]! + out.slice(at);
    else if (kind === 2) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(next() * 16));
    else out = out.slice(0, at);
  }
  return out;
}

describe('extractRepomdVersion on generated hostile bytes', () => {
  it(`refuses with metadata.revision or returns exactly what the bytes hold (${CASES} cases)`, () => {
    const next = random(0x7e3d);
    let accepted = 0;
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const text = mutate(BASE, next);
      let result;
      try {
        result = extractRepomdVersion(new Uint8Array(Buffer.from(text, 'latin1')));
      } catch (error) {
        if (!(error instanceof OrchestratorError) || error.code !== 'metadata.revision')
          failures.push(`threw ${String(error)} for ${JSON.stringify(text)}`);
        continue;
      }
      accepted++;
      const revisions = [...text.matchAll(/<revision>([0-9]+)<\/revision>/g)];
      const stamps = [...text.matchAll(/<timestamp>([0-9]+)<\/timestamp>/g)].map((m) => Number(m[1]));
      const ok =
        revisions.length === 1 &&
        result.revision === BigInt(revisions[0]![1]!) &&
        result.timestamp === (stamps.length > 0 ? Math.max(...stamps) : undefined) &&
        !text.includes('<!--') &&
        !text.includes('<!DOCTYPE');
      if (!ok) failures.push(`accepted ${JSON.stringify(text)}`);
    }
    expect(failures).toEqual([]);
    // The mutations leave many documents intact enough to be read: the property is exercised.
    expect(accepted).toBeGreaterThan(CASES / 10);
  });
});
