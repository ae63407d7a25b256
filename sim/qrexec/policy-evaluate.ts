/**
 * Evaluation of a qrexec call against loaded policy rules, as qrexec's Request and
 * Allow/Deny/Ask.evaluate do it:
 *  - the intended target is verified first: '' means @default; a VM name that does not exist
 *    becomes @default; @dispvm:NAME needs NAME to exist with template_for_dispvms;
 *  - the first rule matching (service, argument, source, target) decides; none means deny;
 *  - allow: the redirect (target=) or else the intended target; @default is refused; @dispvm
 *    becomes @dispvm:<source's default_dispvm>; @adminvm becomes dom0; autostart=no refuses
 *    targets that are not running (and every disposable);
 *  - ask: the simulator has no user to ask; `askAnswer` stands in for the user. 'allow' accepts
 *    the preselected choice (target=, else default_target, else the intended target if
 *    concrete) and then proceeds as allow; 'deny' (the default) refuses.
 */
import { AccessDenied } from './errors.ts';
import type { PolicyRule } from './policy-rule.ts';
import {
  dispvmTemplateOf,
  isDom0,
  matchSource,
  matchTarget,
  parseVmToken,
  type SystemInfo,
  type VmToken,
} from './policy-tokens.ts';

export type AskAnswer = 'allow' | 'deny';

export interface QrexecRequest {
  readonly service: string;
  /** Starts with '+'; '+' alone is the empty argument. */
  readonly argument: string;
  readonly source: string;
  /** As the caller wrote it ('' and '$'-spelled keywords are accepted, as qrexec-client-vm does). */
  readonly target: string;
}

export interface PolicyDecision {
  /** 'dom0', a VM name, or '@dispvm:NAME' (a new disposable of NAME). */
  readonly target: string;
  /** The verified intended target (what the caller asked for, after @default substitution). */
  readonly intendedTarget: string;
  readonly user: string | null;
  readonly autostart: boolean;
  readonly rule: PolicyRule;
  /** True when an ask rule was resolved by the configured answer. */
  readonly asked: boolean;
}

function where(rule: PolicyRule): string {
  return `${rule.file}:${rule.line}`;
}

/** Turns the caller's target into qrexec's IntendedTarget, verified against the system. */
export function verifyIntendedTarget(raw: string, info: SystemInfo): string {
  // qrexec-client-vm documents '$default', '$dispvm', '$dispvm:NAME'; the daemon reads '$' as '@'.
  const text = raw === '' ? '@default' : raw.startsWith('$') ? '@' + raw.slice(1) : raw;
  let token: VmToken;
  try {
    token = parseVmToken(text, 'intended', '<request>', 0);
  } catch {
    throw new AccessDenied(`invalid target: '${raw}'`);
  }
  switch (token.kind) {
    case 'name':
      // A name that is not a VM is silently replaced by @default, as upstream does.
      if (isDom0(token.text)) return 'dom0';
      return info.domains.has(token.text) ? token.text : '@default';
    case 'dispvm-template': {
      const domain = info.domains.get(token.value);
      if (!domain || !domain.templateForDispvms)
        throw new AccessDenied(`not a template for dispvm: ${token.value}`);
      return token.text;
    }
    default:
      return token.text;
  }
}

function isMatch(rule: PolicyRule, request: QrexecRequest, target: string, info: SystemInfo): boolean {
  return (
    (rule.service === null || rule.service === request.service) &&
    (rule.argument === null || rule.argument === request.argument) &&
    matchSource(rule.source, request.source, info) &&
    matchTarget(rule.target, target, request.source, info)
  );
}

function resolveAllowTarget(
  rule: PolicyRule,
  redirect: VmToken | null,
  intended: string,
  source: string,
  autostart: boolean,
  info: SystemInfo,
): string {
  let target = redirect ? verifyIntendedTarget(redirect.text, info) : intended;
  if (target === '@default') {
    throw new AccessDenied(
      `policy define 'allow' action at ${where(rule)} but no target is specified by caller or policy`,
    );
  }
  if (target === '@dispvm') {
    const template = dispvmTemplateOf(source, info);
    if (template === null) {
      throw new AccessDenied(
        `policy define 'allow' action to @dispvm at ${where(rule)} but no DispVM base is set for this VM`,
      );
    }
    target = `@dispvm:${template}`;
  } else if (isDom0(target)) {
    target = 'dom0';
  }
  if (!autostart && target !== 'dom0') {
    const running = !target.startsWith('@dispvm') && info.domains.get(target)?.powerState === 'Running';
    if (!running) throw new AccessDenied(`target ${target} is denied because it would require autostart`);
  }
  return target;
}

/** Finds the first matching rule; throws AccessDenied when none matches. */
export function findMatchingRule(
  rules: readonly PolicyRule[],
  request: QrexecRequest,
  info: SystemInfo,
): PolicyRule {
  const target = verifyIntendedTarget(request.target, info);
  const rule = rules.find((candidate) => isMatch(candidate, request, target, info));
  if (!rule) throw new AccessDenied('no matching rule found');
  return rule;
}

/** Decides a call; throws AccessDenied (with the rule's file:line when a rule denied it). */
export function evaluatePolicy(
  rules: readonly PolicyRule[],
  request: QrexecRequest,
  info: SystemInfo,
  askAnswer: AskAnswer = 'deny',
): PolicyDecision {
  if (!request.argument.startsWith('+')) throw new AccessDenied('argument must start with +');
  const intended = verifyIntendedTarget(request.target, info);
  const rule = findMatchingRule(rules, request, info);
  const action = rule.action;
  switch (action.type) {
    case 'deny':
      throw new AccessDenied(`denied by policy ${where(rule)}`);
    case 'allow':
      return {
        target: resolveAllowTarget(rule, action.target, intended, request.source, action.autostart, info),
        intendedTarget: intended,
        user: action.user,
        autostart: action.autostart,
        rule,
        asked: false,
      };
    case 'ask': {
      if (askAnswer !== 'allow') throw new AccessDenied(`denied by the user (ask at ${where(rule)})`);
      // The dialog preselects default_target; without one, the caller's own choice stands.
      const choice = action.target ?? action.defaultTarget;
      if (intended === '@default' && choice === null) {
        throw new AccessDenied(`policy define 'ask' action at ${where(rule)} but no target was chosen`);
      }
      return {
        target: resolveAllowTarget(rule, choice, intended, request.source, action.autostart, info),
        intendedTarget: intended,
        user: action.user,
        autostart: action.autostart,
        rule,
        asked: true,
      };
    }
  }
}
