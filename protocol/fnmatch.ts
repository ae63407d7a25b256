/**
 * Shell-style wildcard matching with exactly the semantics of Python's fnmatch.fnmatchcase
 * (Lib/fnmatch.py, Python 3.11), which qvm-template and dnf use for template specs and repo ids:
 * '*' any run of characters (including '/' and none), '?' any one character, '[seq]' and
 * '[!seq]' character sets; no escape character, no path semantics, case-sensitive.
 *
 * Patterns are compiled into single-character tokens and matched by a linear backtracking
 * scan over the last '*', so hostile patterns cannot cause exponential work.
 */

/** Longest pattern accepted; longer ones never match (template specs are a few dozen characters). */
export const MAX_FNMATCH_PATTERN_LENGTH = 1024;

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'literal'; readonly char: string }
  | {
      readonly kind: 'set';
      readonly negated: boolean;
      readonly singles: ReadonlySet<string>;
      readonly ranges: readonly (readonly [number, number])[];
    };

/**
 * Reads the set between '[' and its ']' the way fnmatch.translate does: a leading '!' negates;
 * a ']' right after '[' or '[!' is a member; '-' between two characters makes a range unless it
 * is first or last; ranges whose ends are reversed are dropped together with both ends.
 */
function compileSet(chars: readonly string[], start: number, end: number): Token {
  // start: index just after '['; end: index of the closing ']'.
  const negated = chars[start] === '!';
  const body = chars.slice(start, end);
  // Split into chunks at hyphens that make ranges; the first chunk keeps the '!' if present.
  const chunks: string[][] = [];
  const hasHyphen = body.includes('-');
  if (!hasHyphen) {
    chunks.push(body);
  } else {
    let from = 0;
    let searchFrom = negated ? 2 : 1;
    for (;;) {
      let k = -1;
      for (let p = searchFrom; p < body.length; p++) {
        if (body[p] === '-') {
          k = p;
          break;
        }
      }
      if (k < 0) break;
      chunks.push(body.slice(from, k));
      from = k + 1;
      searchFrom = k + 3;
    }
    const last = body.slice(from);
    if (last.length > 0) chunks.push(last);
    else chunks[chunks.length - 1]!.push('-');
    // A reversed range (last char of one chunk above the first of the next) matches nothing:
    // drop both of its ends and join the chunks.
    for (let k = chunks.length - 1; k > 0; k--) {
      const prev = chunks[k - 1]!;
      const next = chunks[k]!;
      if (
        prev.length > 0 &&
        next.length > 0 &&
        prev[prev.length - 1]!.codePointAt(0)! > next[0]!.codePointAt(0)!
      ) {
        chunks[k - 1] = [...prev.slice(0, -1), ...next.slice(1)];
        chunks.splice(k, 1);
      }
    }
  }
  const singles = new Set<string>();
  const ranges: [number, number][] = [];
  chunks.forEach((chunk, index) => {
    chunk.forEach((c, pos) => {
      if (index === 0 && pos === 0 && negated) return;
      const startsRange = index < chunks.length - 1 && pos === chunk.length - 1;
      const endsRange = index > 0 && pos === 0;
      if (startsRange) ranges.push([c.codePointAt(0)!, chunks[index + 1]![0]!.codePointAt(0)!]);
      else if (!endsRange) singles.add(c);
    });
  });
  return { kind: 'set', negated, singles, ranges };
}

function compile(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    i++;
    if (c === '*') {
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
    } else if (c === '[') {
      let j = i;
      if (j < chars.length && chars[j] === '!') j++;
      if (j < chars.length && chars[j] === ']') j++;
      while (j < chars.length && chars[j] !== ']') j++;
      if (j >= chars.length) {
        tokens.push({ kind: 'literal', char: '[' });
      } else {
        tokens.push(compileSet(chars, i, j));
        i = j + 1;
      }
    } else {
      tokens.push({ kind: 'literal', char: c });
    }
  }
  return tokens;
}

function matchOne(token: Token, c: string): boolean {
  switch (token.kind) {
    case 'any':
      return true;
    case 'literal':
      return token.char === c;
    case 'set': {
      const cp = c.codePointAt(0)!;
      const inSet = token.singles.has(c) || token.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
      return inSet !== token.negated;
    }
    case 'star':
      return false;
  }
}

/** True if the whole of `name` matches `pattern` (Python's fnmatch.fnmatchcase). */
export function fnmatchcase(name: string, pattern: string): boolean {
  if (pattern.length > MAX_FNMATCH_PATTERN_LENGTH) return false;
  const tokens = compile(pattern);
  const text = Array.from(name);
  let t = 0;
  let p = 0;
  let starToken = -1;
  let starText = 0;
  while (t < text.length) {
    const token = tokens[p];
    if (token !== undefined && token.kind === 'star') {
      starToken = p;
      starText = t;
      p++;
    } else if (token !== undefined && matchOne(token, text[t]!)) {
      p++;
      t++;
    } else if (starToken >= 0) {
      // Let the last '*' swallow one more character and retry from there.
      p = starToken + 1;
      starText++;
      t = starText;
    } else {
      return false;
    }
  }
  while (tokens[p]?.kind === 'star') p++;
  return p === tokens.length;
}

/** True if the pattern contains a wildcard ('*', '?' or '['), as dnf.util.is_glob_pattern checks. */
export function isGlobPattern(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}
