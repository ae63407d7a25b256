/**
 * template.conf and the appmenu lists from a template package, applied as
 * qvm-template-postprocess does (qubesadmin/tools/qvm_template_postprocess.py), with strict
 * checks: the file is untrusted until its digest matched the signed header, and even then a
 * community template's author is not trusted with arbitrary VM settings.
 */
import { OrchestratorError } from '../errors.ts';

export const MAX_TEMPLATE_CONF_BYTES = 64 * 1024;
export const MAX_APPMENU_LIST_BYTES = 256 * 1024;

/** Features template.conf may enable; only the value '1' is honoured (as the incumbent does). */
export const BOOLEAN_FEATURE_KEYS = [
  'no-monitor-layout',
  'pci-e820-host',
  'linux-stubdom',
  'gui',
  'selinux',
  'gui-emulated',
  'qrexec',
] as const;
export const IP_FEATURE_KEYS = ['net.fake-ip', 'net.fake-gateway', 'net.fake-netmask'] as const;

export type TemplateConfFeature = (typeof BOOLEAN_FEATURE_KEYS)[number] | (typeof IP_FEATURE_KEYS)[number];

export interface TemplateConfActions {
  readonly features: ReadonlyMap<TemplateConfFeature, string>;
  readonly virtMode?: 'pv' | 'pvh' | 'hvm';
  /** Set only to '' (no kernel): the only kernel value the incumbent honours. */
  readonly kernel?: '';
  readonly warnings: readonly string[];
}

function isOneOf<T extends string>(names: readonly T[], key: string): key is T {
  return (names as readonly string[]).includes(key);
}

/** A dotted quad of four decimal numbers 0-255, without signs, spaces or leading zeros. */
export function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** Refuses CR (a CRLF file), control bytes and anything outside ASCII, with `code`. */
function decodeAscii(
  bytes: Uint8Array,
  what: string,
  max: number,
  code: 'template.conf' | 'template.appmenu',
): string {
  if (bytes.length > max) throw new OrchestratorError(code, `${what} is larger than ${max} bytes`);
  for (const [i, b] of bytes.entries()) {
    if (b !== 0x0a && b !== 0x09 && (b < 0x20 || b > 0x7e)) {
      throw new OrchestratorError(code, `${what}: byte ${i} is not printable ASCII`);
    }
  }
  return new TextDecoder('ascii').decode(bytes);
}

export function parseTemplateConf(bytes: Uint8Array, options: { allowPv: boolean }): TemplateConfActions {
  const text = decodeAscii(bytes, 'template.conf', MAX_TEMPLATE_CONF_BYTES, 'template.conf');
  const entries = new Map<string, string>();
  const warnings: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0)
      throw new OrchestratorError('template.conf', `template.conf line ${index + 1}: expected KEY=VALUE`);
    const key = line.slice(0, eq);
    if (entries.has(key))
      throw new OrchestratorError('template.conf', `template.conf: duplicate key '${key}'`);
    entries.set(key, line.slice(eq + 1));
  }
  const features = new Map<TemplateConfFeature, string>();
  let virtMode: TemplateConfActions['virtMode'];
  let kernel: TemplateConfActions['kernel'];
  for (const [key, value] of entries) {
    if (isOneOf(BOOLEAN_FEATURE_KEYS, key)) {
      if (value === '1') features.set(key, '1');
      else warnings.push(`template.conf: ignoring ${key}=${value}: boolean flags are honoured only as '1'`);
    } else if (isOneOf(IP_FEATURE_KEYS, key)) {
      if (isIpv4(value)) features.set(key, value);
      else warnings.push(`template.conf: ignoring invalid IPv4 address for ${key}`);
    } else if (key === 'virt-mode') {
      if (value === 'pvh' || value === 'hvm') virtMode = value;
      else if (value === 'pv' && options.allowPv) virtMode = 'pv';
      else if (value === 'pv') warnings.push('template.conf: --allow-pv not given, ignoring virt-mode=pv');
      else warnings.push('template.conf: ignoring invalid value for virt-mode');
    } else if (key === 'kernel') {
      if (value === '') kernel = '';
      else warnings.push('template.conf: ignoring kernel: only an empty kernel (none) can be set');
    } else {
      warnings.push(`template.conf: ignoring unknown key '${key}'`);
    }
  }
  return {
    features,
    ...(virtMode !== undefined ? { virtMode } : {}),
    ...(kernel !== undefined ? { kernel } : {}),
    warnings,
  };
}

/**
 * An appmenu list (one .desktop file name a line) becomes a space-joined feature value. Names
 * with spaces would change the meaning of that value, so they are refused ('template.appmenu').
 */
export function parseAppmenuList(bytes: Uint8Array, what: string): string {
  const text = decodeAscii(bytes, what, MAX_APPMENU_LIST_BYTES, 'template.appmenu');
  const items = text
    .split('\n')
    .map((line) => line.replace(/[\t ]+$/, ''))
    .filter((line) => line !== '');
  for (const item of items) {
    if (!/^[A-Za-z0-9_.@+-]{1,255}$/.test(item)) {
      throw new OrchestratorError(
        'template.appmenu',
        `${what}: invalid menu item name '${item.slice(0, 64)}'`,
      );
    }
  }
  return items.join(' ');
}

/** Appmenu list file → the feature qvm-template-postprocess stores it in. */
export const APPMENU_FEATURES = {
  'vm-whitelisted-appmenus.list': 'default-menu-items',
  'whitelisted-appmenus.list': 'menu-items',
  'netvm-whitelisted-appmenus.list': 'netvm-menu-items',
} as const;
