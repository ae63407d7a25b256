/**
 * Deterministic, semi-compressible test data shaped like a template image: runs of zeros,
 * runs of text-like bytes and runs of incompressible bytes.
 */
export function semiCompressible(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const words = ['qubes', 'template', 'root', 'image', 'sparse', 'kernel', 'lib', 'usr', ' ', '\n', 'el'];
  const enc = new TextEncoder();
  let o = 0;
  while (o < size) {
    const kind = next() % 4;
    const run = Math.min(size - o, 4096 + (next() % 61440));
    if (kind === 0) {
      o += run; // zeros
    } else if (kind === 3) {
      for (let i = 0; i < run; i += 4) {
        const v = next();
        for (let k = 0; k < 4 && i + k < run; k++) out[o + i + k] = (v >>> (8 * k)) & 0xff;
      }
      o += run;
    } else {
      const end = o + run;
      while (o < end) {
        const w = enc.encode(words[next() % words.length]);
        const n = Math.min(w.length, end - o);
        out.set(w.subarray(0, n), o);
        o += n;
      }
    }
  }
  return out;
}
