/**
 * dnf's variables in repository definitions: `$releasever` (and its major and minor parts),
 * `$basearch` and `$arch`, substituted as libdnf's ConfigParser::substitute does, with
 * `${name:-word}` and `${name:+word}` nested at most MAX_EXPANSION_DEPTH deep.
 */

export interface RepoVariables {
  /** Qubes release, e.g. "4.2" (qvm-template --releasever). */
  readonly releasever: string;
  /** dnf's $basearch and $arch in the UpdateVM; templates are noarch. Default x86_64. */
  readonly basearch?: string;
}

/**
 * libdnf's variable expansion (ConfigParser::substitute): $name and ${name} of known variables,
 * ${name:-word} (word if unset or empty) and ${name:+word} (word if set and non-empty), '\'
 * escaping the next character; unknown variables stay as written.
 */
export function substituteVariables(text: string, variables: ReadonlyMap<string, string>): string {
  return expand(text, variables, 0).text;
}

const MAX_EXPANSION_DEPTH = 32;

function expand(
  text: string,
  variables: ReadonlyMap<string, string>,
  depth: number,
): { text: string; scanned: number; closed: boolean } {
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === '}' && depth > 0) return { text: out, scanned: pos, closed: true };
    if (c === '\\' && pos + 1 < text.length) {
      out += text[pos + 1]!;
      pos += 2;
      continue;
    }
    if (c !== '$' || pos + 1 >= text.length) {
      out += c;
      pos++;
      continue;
    }
    const braces = text[pos + 1] === '{';
    const nameStart = pos + (braces ? 2 : 1);
    let nameEnd = nameStart;
    while (nameEnd < text.length && /[A-Za-z0-9_]/.test(text[nameEnd]!)) nameEnd++;
    const value = variables.get(text.slice(nameStart, nameEnd));
    if (!braces) {
      out += value ?? text.slice(pos, nameEnd);
      pos = nameEnd;
      continue;
    }
    if (text[nameEnd] === '}') {
      out += value ?? text.slice(pos, nameEnd + 1);
      pos = nameEnd + 1;
      continue;
    }
    const mode = text[nameEnd + 1];
    if (text[nameEnd] === ':' && (mode === '-' || mode === '+') && depth < MAX_EXPANSION_DEPTH) {
      const inner = expand(text.slice(nameEnd + 2), variables, depth + 1);
      if (inner.closed) {
        const set = value !== undefined && value !== '';
        if (mode === '-') out += set ? value : inner.text;
        else out += set ? inner.text : '';
        pos = nameEnd + 2 + inner.scanned + 1;
        continue;
      }
      // An unterminated ${name:-word: libdnf stops substituting there.
      return { text: out + text.slice(pos), scanned: text.length, closed: false };
    }
    // Not a complete expression: keep the characters as written.
    out += text.slice(pos, nameEnd);
    pos = nameEnd;
  }
  return { text: out, scanned: text.length, closed: false };
}

/** The variables a repository definition may use, for this release and architecture. */
export function variablesFor(vars: RepoVariables): Map<string, string> {
  const dot = vars.releasever.indexOf('.');
  const basearch = vars.basearch ?? 'x86_64';
  return new Map([
    ['releasever', vars.releasever],
    ['releasever_major', dot === -1 ? vars.releasever : vars.releasever.slice(0, dot)],
    ['releasever_minor', dot === -1 ? '' : vars.releasever.slice(dot + 1)],
    ['basearch', basearch],
    ['arch', basearch],
  ]);
}
