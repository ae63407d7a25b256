import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AccessDenied,
  evaluatePolicy,
  loadPolicyDirs,
  parsePolicyText,
  PolicySyntaxError,
} from '../../sim/qrexec/index.ts';
import { policySystem, policyVm as vm } from '../helpers/policy-system.ts';

const info = policySystem(
  vm('fedora', 'TemplateVM'),
  vm('mgmt', 'AppVM', { tags: ['tmpl-manager'], defaultDispvm: 'default-dvm', template: 'fedora' }),
  vm('work', 'AppVM', { defaultDispvm: 'default-dvm', template: 'fedora', powerState: 'Running' }),
  vm('nodisp', 'AppVM', { template: 'fedora' }),
  vm('default-dvm', 'AppVM', { templateForDispvms: true, template: 'fedora' }),
  vm('tagged-dvm', 'AppVM', { templateForDispvms: true, tags: ['worker'], template: 'fedora' }),
);

function decide(
  policy: string,
  service: string,
  argument: string,
  source: string,
  target: string,
  ask?: 'allow' | 'deny',
) {
  return evaluatePolicy(
    parsePolicyText(policy, 'test.policy'),
    { service, argument, source, target },
    info,
    ask,
  );
}

function denied(fn: () => unknown): AccessDenied {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AccessDenied);
    return error as AccessDenied;
  }
  throw new Error('expected AccessDenied');
}

function syntaxError(text: string): PolicySyntaxError {
  try {
    parsePolicyText(text, 'bad.policy');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicySyntaxError);
    return error as PolicySyntaxError;
  }
  throw new Error('expected PolicySyntaxError');
}

describe('actions and first match', () => {
  test('allow to the requested VM, deny with the rule location, default deny', () => {
    const policy = 'svc.A * mgmt work allow\nsvc.B * mgmt work deny\n';
    const decision = decide(policy, 'svc.A', '+', 'mgmt', 'work');
    expect(decision.target).toBe('work');
    expect(decision.rule.line).toBe(1);
    expect(denied(() => decide(policy, 'svc.B', '+', 'mgmt', 'work')).message).toBe(
      'denied by policy test.policy:2',
    );
    expect(denied(() => decide(policy, 'svc.C', '+', 'mgmt', 'work')).message).toBe('no matching rule found');
    expect(denied(() => decide(policy, 'svc.A', '+', 'work', 'mgmt')).code).toBe('qrexec.denied');
  });

  test('the first matching rule wins, whatever comes later', () => {
    const policy = 'svc.A * mgmt work deny\nsvc.A * mgmt work allow\n';
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'work'));
    const reversed = 'svc.A * mgmt work allow\nsvc.A * mgmt work deny\n';
    expect(decide(reversed, 'svc.A', '+', 'mgmt', 'work').target).toBe('work');
    const wildcardFirst = '* * @anyvm @anyvm deny\nsvc.A * mgmt work allow\n';
    denied(() => decide(wildcardFirst, 'svc.A', '+', 'mgmt', 'work'));
  });

  test('arguments: * matches any, + alone only the empty argument, +X exactly X', () => {
    const policy =
      'svc.A +root mgmt work allow\nsvc.A + mgmt work allow target=nodisp\nsvc.B * mgmt work allow\n';
    expect(decide(policy, 'svc.A', '+root', 'mgmt', 'work').target).toBe('work');
    expect(decide(policy, 'svc.A', '+', 'mgmt', 'work').target).toBe('nodisp');
    denied(() => decide(policy, 'svc.A', '+private', 'mgmt', 'work'));
    expect(decide(policy, 'svc.B', '+anything', 'mgmt', 'work').target).toBe('work');
    expect(decide(policy, 'svc.B', '+', 'mgmt', 'work').target).toBe('work');
  });

  test('allow target= redirects; @adminvm and dom0 are one domain', () => {
    const policy =
      'admin.vm.List * mgmt @adminvm allow target=dom0\nadmin.Get * mgmt @type:TemplateVM allow target=@adminvm\n';
    expect(decide(policy, 'admin.vm.List', '+', 'mgmt', 'dom0').target).toBe('dom0');
    expect(decide(policy, 'admin.vm.List', '+', 'mgmt', '@adminvm').target).toBe('dom0');
    const redirected = decide(policy, 'admin.Get', '+', 'mgmt', 'fedora');
    expect(redirected.target).toBe('dom0');
    expect(redirected.intendedTarget).toBe('fedora');
    expect(decide('x * @adminvm dom0 allow\n', 'x', '+', 'dom0', '@adminvm').target).toBe('dom0');
  });
});

describe('ask', () => {
  const policy =
    'svc.A * mgmt @anyvm ask default_target=work\nsvc.B * mgmt @anyvm ask\nsvc.C * mgmt @anyvm ask target=nodisp\n';
  test('denied unless the run answers allow', () => {
    expect(denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'nodisp')).message).toMatch(
      /denied by the user.*test.policy:1/,
    );
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'nodisp', 'deny'));
  });
  test('allow takes target=, else default_target, else the caller choice', () => {
    const a = decide(policy, 'svc.A', '+', 'mgmt', 'nodisp', 'allow');
    expect([a.target, a.asked]).toEqual(['work', true]);
    expect(decide(policy, 'svc.A', '+', 'mgmt', '@default', 'allow').target).toBe('work');
    expect(decide(policy, 'svc.B', '+', 'mgmt', 'nodisp', 'allow').target).toBe('nodisp');
    denied(() => decide(policy, 'svc.B', '+', 'mgmt', '@default', 'allow'));
    expect(decide(policy, 'svc.C', '+', 'mgmt', 'work', 'allow').target).toBe('nodisp');
  });
});

describe('targets: @default, @dispvm, @tag, @type', () => {
  test('@default: needs target= to allow; an unknown VM name is @default', () => {
    const policy = 'svc.A * mgmt @default allow target=work\nsvc.B * mgmt @anyvm allow\n';
    expect(decide(policy, 'svc.A', '+', 'mgmt', '').target).toBe('work');
    expect(decide(policy, 'svc.A', '+', 'mgmt', '$default').target).toBe('work');
    expect(decide(policy, 'svc.A', '+', 'mgmt', 'no-such-vm').target).toBe('work');
    // @anyvm matches @default, but plain allow has nowhere to go.
    expect(denied(() => decide(policy, 'svc.B', '+', 'mgmt', '@default')).message).toMatch(
      /no target is specified/,
    );
    expect(syntaxError('svc.A * mgmt @default allow\n').message).toBe(
      'bad.policy:1: allow action for @default rule must specify target= option',
    );
  });

  test('@dispvm resolves to the caller default_dispvm; @dispvm:NAME matches it', () => {
    const policy = 'svc.A * mgmt @dispvm allow\nsvc.B * @anyvm @dispvm:default-dvm allow\n';
    expect(decide(policy, 'svc.A', '+', 'mgmt', '@dispvm').target).toBe('@dispvm:default-dvm');
    expect(decide(policy, 'svc.A', '+', 'mgmt', '$dispvm').target).toBe('@dispvm:default-dvm');
    // rule @dispvm matches only the bare @dispvm request
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', '@dispvm:default-dvm'));
    expect(decide(policy, 'svc.B', '+', 'work', '@dispvm').target).toBe('@dispvm:default-dvm');
    expect(decide(policy, 'svc.B', '+', 'work', '@dispvm:default-dvm').target).toBe('@dispvm:default-dvm');
    denied(() => decide(policy, 'svc.B', '+', 'work', '@dispvm:tagged-dvm'));
    // a caller without default_dispvm cannot use a bare @dispvm
    const any = 'svc.C * @anyvm @dispvm allow\n';
    expect(denied(() => decide(any, 'svc.C', '+', 'nodisp', '@dispvm')).message).toMatch(/no DispVM base/);
    // @dispvm:X needs X to be a disposable template
    expect(denied(() => decide(policy, 'svc.B', '+', 'work', '@dispvm:work')).message).toMatch(
      /not a template for dispvm/,
    );
    // redirect to a disposable
    expect(
      decide('svc.D * mgmt work allow target=@dispvm:tagged-dvm\n', 'svc.D', '+', 'mgmt', 'work').target,
    ).toBe('@dispvm:tagged-dvm');
  });

  test('@dispvm:@tag:T matches disposable templates with that tag', () => {
    const policy = 'svc.A * mgmt @dispvm:@tag:worker allow\n';
    expect(decide(policy, 'svc.A', '+', 'mgmt', '@dispvm:tagged-dvm').target).toBe('@dispvm:tagged-dvm');
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', '@dispvm:default-dvm'));
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', '@dispvm'));
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'tagged-dvm'));
  });

  test('@tag and @type match source and target; @anyvm excludes dom0', () => {
    const policy =
      'svc.A * @tag:tmpl-manager @type:TemplateVM allow\nsvc.B * @anyvm @anyvm allow\nsvc.C * @type:AppVM @adminvm allow\n';
    expect(decide(policy, 'svc.A', '+', 'mgmt', 'fedora').target).toBe('fedora');
    denied(() => decide(policy, 'svc.A', '+', 'work', 'fedora'));
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'work'));
    denied(() => decide(policy, 'svc.B', '+', 'mgmt', 'dom0'));
    denied(() => decide(policy, 'svc.B', '+', 'dom0', 'work'));
    expect(decide(policy, 'svc.C', '+', 'work', 'dom0').target).toBe('dom0');
    // @dispvm:NAME in the source column never matches a caller (upstream DispVMTemplate.match)
    denied(() => decide('svc.D * @dispvm:default-dvm @anyvm allow\n', 'svc.D', '+', 'work', 'mgmt'));
  });

  test('autostart=no refuses targets that are not running and disposables', () => {
    const policy = 'svc.A * mgmt @anyvm allow autostart=no\n';
    expect(decide(policy, 'svc.A', '+', 'mgmt', 'work').target).toBe('work');
    expect(denied(() => decide(policy, 'svc.A', '+', 'mgmt', 'nodisp')).message).toMatch(/require autostart/);
    denied(() => decide(policy, 'svc.A', '+', 'mgmt', '@dispvm'));
  });
});

describe('syntax errors carry file:line and a stable code', () => {
  const cases: [string, string, RegExp][] = [
    ['svc.A * mgmt work\n', 'policy.syntax.fields', /wrong number of fields/],
    ['svc+x * mgmt work allow\n', 'policy.syntax.service', /invalid characters/],
    ['svc.A arg mgmt work allow\n', 'policy.syntax.argument', /does not start with \+/],
    ['svc.A +a/b mgmt work allow\n', 'policy.syntax.argument', /invalid characters/],
    ['* +x mgmt work allow\n', 'policy.syntax.argument', /only \* argument/],
    ['svc.A * @default work allow\n', 'policy.syntax.token', /invalid source token/],
    ['svc.A * @dispvm work allow\n', 'policy.syntax.token', /invalid source token/],
    ['svc.A * mgmt @tag: allow\n', 'policy.syntax.token', /invalid empty @tag: token/],
    ['svc.A * mgmt @bogus allow\n', 'policy.syntax.token', /invalid token/],
    ['svc.A * mgmt work permit\n', 'policy.syntax.action', /invalid action: permit/],
    ['svc.A * mgmt work allow target=@anyvm\n', 'policy.syntax.token', /invalid redirect token/],
    ['svc.A * mgmt work allow notify=maybe\n', 'policy.syntax.param', /only 'yes' or 'no'/],
    ['svc.A * mgmt work allow user=a user=b\n', 'policy.syntax.param', /given twice/],
    ['svc.A * mgmt work deny target=work\n', 'policy.syntax.param', /invalid parameters/],
    ['svc.A * mgmt work allow default_target=work\n', 'policy.syntax.param', /invalid parameters/],
    ['svc.A * mgmt work allow # comment\n', 'policy.syntax.param', /invalid action parameter syntax/],
    ['!bogus x\n', 'policy.syntax.directive', /invalid directive/],
    ['!include a b\n', 'policy.syntax.directive', /invalid number of params/],
  ];
  test.each(cases)('%j', (text, code, message) => {
    const error = syntaxError(`# comment\n\n${text}`);
    expect(error.code).toBe(code);
    expect(error.file).toBe('bad.policy');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^bad\.policy:3: /);
    expect(error.message).toMatch(message);
  });
});

describe('files and directives', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  function dir(name: string, files: Record<string, string>): string {
    const target = path.join(root, name);
    fs.mkdirSync(target, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
      fs.writeFileSync(path.join(target, file), text);
    }
    return target;
  }

  test('files load in C order, earlier directories hide same-named files, non-.policy files ignored', () => {
    const a = dir('order-a', {
      '50-b.policy': 'svc.A * mgmt work allow target=nodisp\n',
      '30-override.policy': 'svc.B * mgmt work deny\n',
      'README.md': 'not policy',
      '.hidden.policy': 'garbage',
    });
    const b = dir('order-b', {
      '30-override.policy': 'svc.B * mgmt work allow\n',
      '10-a.policy': 'svc.A * mgmt work allow\n',
      'Z-upper.txt': 'ignored: not .policy',
    });
    const rules = loadPolicyDirs([a, b]);
    expect(rules.map((r) => `${path.basename(r.file)}:${r.line}`)).toEqual([
      '10-a.policy:1',
      '30-override.policy:1',
      '50-b.policy:1',
    ]);
    expect(
      evaluatePolicy(rules, { service: 'svc.A', argument: '+', source: 'mgmt', target: 'work' }, info).target,
    ).toBe('work');
    denied(() =>
      evaluatePolicy(rules, { service: 'svc.B', argument: '+', source: 'mgmt', target: 'work' }, info),
    );
  });

  test('a policy file name outside [0-9a-z_.-] invalidates the policy', () => {
    const bad = dir('badname', { '30-Tmpl.policy': 'svc.A * mgmt work allow\n' });
    expect(() => loadPolicyDirs([bad])).toThrow(expect.objectContaining({ code: 'policy.filename' }));
  });

  test('!include, !include-dir and !include-service (old syntax) splice rules in place', () => {
    const d = dir('includes', {
      '20-main.policy': [
        'svc.First * mgmt work allow',
        '!include include/one',
        '!include-dir include/dir',
        '!include-service svc.Old + include/old-style',
        'svc.Last * mgmt work allow',
      ].join('\n'),
      'include/one': 'svc.One * mgmt work allow\n',
      'include/dir/10-x.policy': 'svc.X * mgmt work allow\n',
      'include/dir/ignored.txt': 'svc.Nope * mgmt work allow\n',
      'include/old-style': '# old format\nmgmt $dispvm:default-dvm allow\n$anyvm $anyvm deny,notify=no\n',
    });
    const rules = loadPolicyDirs([d]);
    expect(rules.map((r) => r.service)).toEqual([
      'svc.First',
      'svc.One',
      'svc.X',
      'svc.Old',
      'svc.Old',
      'svc.Last',
    ]);
    const old = rules[3]!;
    expect(old.argument).toBe('+');
    expect(old.target.text).toBe('@dispvm:default-dvm');
    expect(rules[4]!.action).toEqual({ type: 'deny', notify: false });
    expect(
      evaluatePolicy(
        rules,
        { service: 'svc.Old', argument: '+', source: 'mgmt', target: '@dispvm:default-dvm' },
        info,
      ).target,
    ).toBe('@dispvm:default-dvm');
  });

  test('errors inside an included file name that file and line; missing includes name the includer', () => {
    const d = dir('bad-include', {
      '20-main.policy': 'svc.A * mgmt work allow\n!include include/broken\n',
      'include/broken': '\nsvc.A * mgmt\n',
    });
    const error = (() => {
      try {
        loadPolicyDirs([d]);
      } catch (e) {
        return e as PolicySyntaxError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(PolicySyntaxError);
    expect([error.file, error.line, error.code]).toEqual([
      path.join(d, 'include/broken'),
      2,
      'policy.syntax.fields',
    ]);

    const missing = dir('missing-include', { '20-main.policy': '\n!include nowhere\n' });
    expect(() => loadPolicyDirs([missing])).toThrow(`${path.join(missing, '20-main.policy')}:2: not a file`);
  });

  test('include cycles stop at the depth limit', () => {
    const d = dir('cycle', {
      '20-main.policy': '!include include/loop\n',
      'include/loop': '!include include/loop\n',
    });
    expect(() => loadPolicyDirs([d])).toThrow(expect.objectContaining({ code: 'policy.syntax.include' }));
  });
});
