/**
 * One rule of qrexec policy v5 (`SERVICE ARGUMENT SOURCE TARGET ACTION [PARAM=VALUE ...]`) and
 * one rule of the old per-service format that `!include-service` reads (`SOURCE TARGET ACTION[,PARAMS]`).
 * Semantics follow qubes-core-qrexec qrexec/policy/parser.py (Rule, Allow, Deny, Ask).
 */
import { PolicySyntaxError } from './errors.ts';
import { parseVmToken, type VmToken } from './policy-tokens.ts';

export type PolicyAction =
  | { readonly type: 'deny'; readonly notify: boolean }
  | {
      readonly type: 'allow';
      readonly target: VmToken | null;
      readonly user: string | null;
      readonly notify: boolean;
      readonly autostart: boolean;
    }
  | {
      readonly type: 'ask';
      readonly target: VmToken | null;
      readonly defaultTarget: VmToken | null;
      readonly user: string | null;
      readonly notify: boolean;
      readonly autostart: boolean;
    };

export interface PolicyRule {
  /** null for `*` */
  readonly service: string | null;
  /** null for `*`; otherwise starts with '+' ('+' alone is the empty argument). */
  readonly argument: string | null;
  readonly source: VmToken;
  readonly target: VmToken;
  readonly action: PolicyAction;
  readonly file: string;
  readonly line: number;
}

/** qrexec's RPCNAME_ALLOWED_CHARSET: ASCII letters, digits and `+-._`. */
const RPCNAME_CHARS = /^[A-Za-z0-9+._-]*$/;

const ACTION_PARAMS: Record<PolicyAction['type'], ReadonlySet<string>> = {
  deny: new Set(['notify']),
  allow: new Set(['target', 'user', 'notify', 'autostart']),
  ask: new Set(['target', 'default_target', 'user', 'notify', 'autostart']),
};

/** Checks the service and argument columns; returns null for `*`. */
export function validateServiceAndArgument(
  service: string,
  argument: string,
  file: string,
  line: number,
): { service: string | null; argument: string | null } {
  const svc = service === '*' ? null : service;
  if (svc !== null && (!RPCNAME_CHARS.test(svc) || svc.includes('+') || svc.length === 0)) {
    throw new PolicySyntaxError(
      'policy.syntax.service',
      file,
      line,
      `service '${svc}' contains invalid characters`,
    );
  }
  const arg = argument === '*' ? null : argument;
  if (arg !== null) {
    if (!RPCNAME_CHARS.test(arg)) {
      throw new PolicySyntaxError(
        'policy.syntax.argument',
        file,
        line,
        `argument '${arg}' contains invalid characters`,
      );
    }
    if (!arg.startsWith('+')) {
      throw new PolicySyntaxError(
        'policy.syntax.argument',
        file,
        line,
        `argument '${arg}' does not start with +`,
      );
    }
    if (svc === null) {
      throw new PolicySyntaxError(
        'policy.syntax.argument',
        file,
        line,
        'only * argument allowed for * service',
      );
    }
  }
  return { service: svc, argument: arg };
}

function yesNo(key: string, value: string, file: string, line: number): boolean {
  if (value !== 'yes' && value !== 'no') {
    throw new PolicySyntaxError(
      'policy.syntax.param',
      file,
      line,
      `'${key}' is '${value}', but can be only 'yes' or 'no'`,
    );
  }
  return value === 'yes';
}

function parseAction(
  actionText: string,
  params: readonly string[],
  file: string,
  line: number,
): PolicyAction {
  if (actionText !== 'allow' && actionText !== 'deny' && actionText !== 'ask') {
    throw new PolicySyntaxError('policy.syntax.action', file, line, `invalid action: ${actionText}`);
  }
  const values = new Map<string, string>();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) {
      throw new PolicySyntaxError(
        'policy.syntax.param',
        file,
        line,
        `invalid action parameter syntax: '${param}'`,
      );
    }
    const key = param.slice(0, eq);
    if (values.has(key)) {
      throw new PolicySyntaxError('policy.syntax.param', file, line, `parameter given twice: '${key}'`);
    }
    if (!ACTION_PARAMS[actionText].has(key)) {
      throw new PolicySyntaxError(
        'policy.syntax.param',
        file,
        line,
        `invalid parameters for action ${actionText}: ${key}`,
      );
    }
    values.set(key, param.slice(eq + 1));
  }
  const redirect = (key: string): VmToken | null => {
    const value = values.get(key);
    return value === undefined ? null : parseVmToken(value, 'redirect', file, line);
  };
  const notifyText = values.get('notify');
  const autostartText = values.get('autostart');
  const notify = notifyText === undefined ? null : yesNo('notify', notifyText, file, line);
  const autostart = autostartText === undefined ? true : yesNo('autostart', autostartText, file, line);
  switch (actionText) {
    case 'deny':
      // Deny notifies by default, allow and ask do not (upstream Deny/Allow/Ask constructors).
      return { type: 'deny', notify: notify ?? true };
    case 'allow':
      return {
        type: 'allow',
        target: redirect('target'),
        user: values.get('user') ?? null,
        notify: notify ?? false,
        autostart,
      };
    case 'ask':
      return {
        type: 'ask',
        target: redirect('target'),
        defaultTarget: redirect('default_target'),
        user: values.get('user') ?? null,
        notify: notify ?? false,
        autostart,
      };
  }
}

function buildRule(
  serviceText: string,
  argumentText: string,
  sourceText: string,
  targetText: string,
  actionText: string,
  params: readonly string[],
  file: string,
  line: number,
): PolicyRule {
  const { service, argument } = validateServiceAndArgument(serviceText, argumentText, file, line);
  const source = parseVmToken(sourceText, 'source', file, line);
  const target = parseVmToken(targetText, 'target', file, line);
  const action = parseAction(actionText, params, file, line);
  if (target.kind === 'default' && action.type === 'allow' && action.target === null) {
    throw new PolicySyntaxError(
      'policy.syntax.param',
      file,
      line,
      'allow action for @default rule must specify target= option',
    );
  }
  return { service, argument, source, target, action, file, line };
}

/** Parses a v5 rule line (already stripped, not a comment or directive). */
export function parseRuleLine(text: string, file: string, line: number): PolicyRule {
  const fields = text.split(/\s+/);
  const [service, argument, source, target, action, ...params] = fields;
  if (
    action === undefined ||
    service === undefined ||
    argument === undefined ||
    source === undefined ||
    target === undefined
  ) {
    throw new PolicySyntaxError('policy.syntax.fields', file, line, 'wrong number of fields');
  }
  return buildRule(service, argument, source, target, action, params, file, line);
}

/**
 * Parses a line of the old (R4.0) per-service format, after the substitutions qrexec applies
 * (`$` -> `@`, `,` -> space): `SOURCE TARGET ACTION [PARAMS]` for `service`/`argument`.
 */
export function parseServiceRuleLine(
  service: string,
  argument: string,
  text: string,
  file: string,
  line: number,
): PolicyRule {
  const [source, target, action, ...params] = text.split(/\s+/);
  if (source === undefined || target === undefined || action === undefined) {
    throw new PolicySyntaxError('policy.syntax.fields', file, line, 'wrong number of fields');
  }
  return buildRule(service, argument, source, target, action, params, file, line);
}
