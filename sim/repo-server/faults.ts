/**
 * Faults a test can inject into the repository server, per request path glob, to play a slow,
 * broken or hostile mirror.
 */

export type Fault =
  /** Send the body at this rate. */
  | { readonly kind: 'slow'; readonly bytesPerSecond: number }
  /** Send this many body bytes, then keep the connection open without sending more. */
  | { readonly kind: 'stall'; readonly afterBytes: number }
  /** Send this many body bytes, then close the connection cleanly (short body). */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Send this many body bytes, then reset the TCP connection (RST). */
  | { readonly kind: 'reset'; readonly afterBytes: number }
  /** Replace the file's bytes at `offset` (file offset, so ranges see the same lie). */
  | { readonly kind: 'corrupt'; readonly offset: number; readonly bytes?: Uint8Array }
  /** 200 with a chunked body that never ends (the file's bytes, then repeated filler). */
  | { readonly kind: 'endless' }
  /** Redirect to another path on this server or an absolute URL on another. */
  | { readonly kind: 'redirect'; readonly location: string; readonly status?: 301 | 302 | 303 | 307 | 308 }
  /** Answer with this status and a short body instead of the file. */
  | { readonly kind: 'status'; readonly status: number };

export interface FaultRule {
  /** Glob on the request path: `*` within a segment, `**` across segments, `?` one character. */
  readonly path: string;
  readonly fault: Fault;
  /** Apply to the first N matching requests only (default: every one). */
  readonly times?: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a path glob to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${source}$`);
}

/** Rules with their remaining use counts; the first matching rule with uses left applies. */
export class FaultTable {
  private rules: { rule: FaultRule; re: RegExp; left: number }[] = [];

  constructor(rules: readonly FaultRule[] = []) {
    this.set(rules);
  }

  set(rules: readonly FaultRule[]): void {
    this.rules = rules.map((rule) => ({ rule, re: globToRegExp(rule.path), left: rule.times ?? Infinity }));
  }

  /** The fault for this request path, consuming one use of its rule. */
  take(path: string): Fault | null {
    for (const entry of this.rules) {
      if (entry.left > 0 && entry.re.test(path)) {
        entry.left--;
        return entry.rule.fault;
      }
    }
    return null;
  }
}
