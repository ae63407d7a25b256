/**
 * VM tokens of qrexec policy v5 (qubes-core-qrexec qrexec/policy/parser.py): which tokens may
 * appear in which column, and how a rule's token matches a request.
 *
 * Contexts, as upstream defines them by class inheritance:
 *  - source column: `*`, `@anyvm`, `@adminvm`, `@type:C`, `@tag:T`, `@dispvm:NAME`,
 *    `@dispvm:@tag:T`, a VM name;
 *  - target column: all of those plus `@default` and `@dispvm`;
 *  - redirect (`target=`, `default_target=`): `@adminvm`, `@dispvm`, `@dispvm:NAME`, a VM name;
 *  - intended target (what the caller asked for): `@adminvm`, `@default`, `@dispvm`,
 *    `@dispvm:NAME`, a VM name.
 */
import { PolicySyntaxError } from './errors.ts';

export type TokenContext = 'source' | 'target' | 'redirect' | 'intended';

export type VmToken =
  | { readonly kind: 'wildcard'; readonly text: '*' }
  | { readonly kind: 'anyvm'; readonly text: '@anyvm' }
  | { readonly kind: 'adminvm'; readonly text: '@adminvm' }
  | { readonly kind: 'default'; readonly text: '@default' }
  | { readonly kind: 'dispvm'; readonly text: '@dispvm' }
  | { readonly kind: 'dispvm-template'; readonly text: string; readonly value: string }
  | { readonly kind: 'dispvm-tag'; readonly text: string; readonly value: string }
  | { readonly kind: 'tag'; readonly text: string; readonly value: string }
  | { readonly kind: 'type'; readonly text: string; readonly value: string }
  | { readonly kind: 'name'; readonly text: string };

/** What policy evaluation knows about one VM (qrexec's system_info "domains" entry). */
export interface VmInfo {
  readonly name: string;
  /** The VM class: AdminVM, TemplateVM, AppVM, DispVM, StandaloneVM. */
  readonly type: string;
  readonly tags: readonly string[];
  /** The default_dispvm property, or null when empty. */
  readonly defaultDispvm: string | null;
  readonly templateForDispvms: boolean;
  readonly powerState: string;
  /** The template property (null for TemplateVM, StandaloneVM, AdminVM). */
  readonly template: string | null;
}

export interface SystemInfo {
  readonly domains: ReadonlyMap<string, VmInfo>;
}

const ALLOWED: Record<TokenContext, ReadonlySet<VmToken['kind']>> = {
  source: new Set(['wildcard', 'anyvm', 'adminvm', 'type', 'tag', 'dispvm-template', 'dispvm-tag', 'name']),
  target: new Set([
    'wildcard',
    'anyvm',
    'adminvm',
    'default',
    'dispvm',
    'type',
    'tag',
    'dispvm-template',
    'dispvm-tag',
    'name',
  ]),
  redirect: new Set(['adminvm', 'dispvm', 'dispvm-template', 'name']),
  intended: new Set(['adminvm', 'default', 'dispvm', 'dispvm-template', 'name']),
};

const EXACT: Record<string, VmToken> = {
  '*': { kind: 'wildcard', text: '*' },
  '@anyvm': { kind: 'anyvm', text: '@anyvm' },
  '@adminvm': { kind: 'adminvm', text: '@adminvm' },
  '@default': { kind: 'default', text: '@default' },
  '@dispvm': { kind: 'dispvm', text: '@dispvm' },
};

// Longest prefix first: '@dispvm:@tag:' must win over '@dispvm:'.
const PREFIXES: readonly [string, 'dispvm-tag' | 'dispvm-template' | 'tag' | 'type'][] = [
  ['@dispvm:@tag:', 'dispvm-tag'],
  ['@dispvm:', 'dispvm-template'],
  ['@tag:', 'tag'],
  ['@type:', 'type'],
];

function parseTokenKind(text: string): VmToken | string {
  if (text.length === 0) return 'invalid empty token';
  const exact = EXACT[text];
  if (exact) return exact;
  if (!text.startsWith('@')) return { kind: 'name', text };
  for (const [prefix, kind] of PREFIXES) {
    if (!text.startsWith(prefix)) continue;
    const value = text.slice(prefix.length);
    if (value.length === 0) return `invalid empty ${prefix} token: '${text}'`;
    if (value.startsWith('@')) continue;
    return { kind, text, value };
  }
  return `invalid token: '${text}'`;
}

/** Parses a token of a policy column or parameter; `file`/`line` locate errors. */
export function parseVmToken(text: string, context: TokenContext, file: string, line: number): VmToken {
  const token = parseTokenKind(text);
  if (typeof token === 'string' || !ALLOWED[context].has(token.kind)) {
    const what = context === 'intended' ? 'target' : context;
    throw new PolicySyntaxError(
      'policy.syntax.token',
      file,
      line,
      typeof token === 'string' ? `${what}: ${token}` : `invalid ${what} token: '${text}'`,
    );
  }
  return token;
}

/** dom0 and @adminvm name the same domain and match each other (upstream is_dom0). */
export function isDom0(text: string): boolean {
  return text === '@adminvm' || text === 'dom0';
}

/** The disposable template a bare `@dispvm` means for `source`: its default_dispvm. */
export function dispvmTemplateOf(source: string, info: SystemInfo): string | null {
  return info.domains.get(source)?.defaultDispvm ?? null;
}

/** Does a rule's source-column token match the calling VM's name? */
export function matchSource(token: VmToken, source: string, info: SystemInfo): boolean {
  switch (token.kind) {
    case 'wildcard':
      return true;
    case 'anyvm':
      return !isDom0(source);
    case 'adminvm':
      return isDom0(source);
    case 'type':
      return info.domains.get(source)?.type === token.value;
    case 'tag':
      return info.domains.get(source)?.tags.includes(token.value) ?? false;
    // A caller is always a VM name, never an @dispvm token: upstream's DispVMTemplate and
    // DispVMTag tokens only match @dispvm targets, so in the source column they match nothing.
    case 'dispvm-template':
    case 'dispvm-tag':
      return false;
    case 'name':
      return isDom0(token.text) ? isDom0(source) : token.text === source;
    case 'default':
    case 'dispvm':
      return false;
  }
}

/**
 * Does a rule's target-column token match the intended target (already verified: an existing VM
 * name, dom0, `@default`, `@dispvm` or `@dispvm:NAME`)? `source` resolves a bare `@dispvm`.
 */
export function matchTarget(token: VmToken, target: string, source: string, info: SystemInfo): boolean {
  switch (token.kind) {
    case 'wildcard':
      return true;
    case 'anyvm':
      return !isDom0(target);
    case 'adminvm':
      return isDom0(target);
    case 'default':
      return target === '@default';
    case 'dispvm':
      return target === '@dispvm';
    case 'type':
      return info.domains.get(target)?.type === token.value;
    case 'tag':
      return info.domains.get(target)?.tags.includes(token.value) ?? false;
    case 'dispvm-template': {
      const template = requestedDispvmTemplate(target, source, info);
      return template !== null && template === token.value;
    }
    case 'dispvm-tag': {
      const template = requestedDispvmTemplate(target, source, info);
      if (template === null) return false;
      const domain = info.domains.get(template);
      return domain !== undefined && domain.templateForDispvms && domain.tags.includes(token.value);
    }
    case 'name':
      return isDom0(token.text) ? isDom0(target) : token.text === target;
  }
}

/** For a target `@dispvm` or `@dispvm:NAME`, the disposable template meant; else null. */
function requestedDispvmTemplate(target: string, source: string, info: SystemInfo): string | null {
  if (target === '@dispvm') return dispvmTemplateOf(source, info);
  if (target.startsWith('@dispvm:') && !target.startsWith('@dispvm:@'))
    return target.slice('@dispvm:'.length);
  return null;
}
