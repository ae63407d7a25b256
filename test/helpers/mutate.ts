/**
 * Seeded byte-level mutations of a valid document, for malformed-input tests: every mutant must
 * be either accepted or refused with a ParseError, never crash the parser another way.
 */

/** A small deterministic PRNG (mulberry32) so a failing mutant can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that matter to XML and INI syntax, so mutations hit the grammar, not only text. */
const INTERESTING = [...'<>/="\'&;#[]!?-:\n\t \r'].map((c) => c.charCodeAt(0)).concat([0x00, 0xff, 0xc3]);

export function* mutants(original: Uint8Array, count: number, seed: number): Generator<[number, Uint8Array]> {
  const rand = prng(seed);
  for (let n = 0; n < count; n++) {
    const bytes = Array.from(original);
    const edits = 1 + Math.floor(rand() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (bytes.length + 1));
      const kind = rand();
      const byte =
        rand() < 0.7 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256);
      if (kind < 0.35) bytes.splice(at, 1);
      else if (kind < 0.7) bytes.splice(at, 0, byte);
      else if (kind < 0.9) bytes[Math.min(at, bytes.length - 1)] = byte;
      else bytes.splice(at, Math.floor(rand() * 40));
    }
    yield [n, new Uint8Array(bytes)];
  }
}
