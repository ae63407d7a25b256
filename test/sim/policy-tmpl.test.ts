/** qrexec-policy/70-tmpl.policy with the simulator's base policy: what a tmpl-manager may do. */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { AccessDenied, evaluatePolicy, loadPolicyDirs } from '../../sim/qrexec/index.ts';
import { policySystem, policyVm as vm } from '../helpers/policy-system.ts';
import { SETUP_SETTABLE } from '../../orchestrator/qubes/worker-setup.ts';
import {
  TEMPLATE_SETTABLE_FEATURES,
  TEMPLATE_SETTABLE_PROPERTIES,
} from '../../orchestrator/transaction/template-plan.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const rules = loadPolicyDirs([path.join(REPO, 'qrexec-policy'), path.join(REPO, 'sim/qrexec/base-policy')]);

const info = policySystem(
  vm('debian-12', 'TemplateVM'),
  vm('mgmt', 'AppVM', { tags: ['tmpl-manager'], defaultDispvm: 'default-dvm', template: 'debian-12' }),
  vm('work', 'AppVM', { defaultDispvm: 'default-dvm', template: 'debian-12' }),
  vm('default-dvm', 'AppVM', { templateForDispvms: true, template: 'debian-12' }),
  vm('worker-dvm', 'AppVM', { templateForDispvms: true, tags: ['tmpl-worker'], template: 'debian-12' }),
  vm('disp1', 'DispVM', { template: 'default-dvm' }),
  vm('tmpl-dvm', 'AppVM', { template: 'debian-12' }),
  vm('mgmt2', 'AppVM', { tags: ['tmpl-manager'], template: 'debian-12' }),
);

function decide(call: string, source: string, target: string): string {
  const plus = call.indexOf('+');
  const [service, argument] = plus < 0 ? [call, '+'] : [call.slice(0, plus), call.slice(plus)];
  try {
    return evaluatePolicy(rules, { service, argument, source, target }, info).target;
  } catch (error) {
    expect(error).toBeInstanceOf(AccessDenied);
    return 'DENY';
  }
}

/** The arguments the policy grants `service` with on `target`, for the rules of 70-tmpl.policy. */
function grantedArguments(service: string, target = '@type:TemplateVM'): string[] {
  return rules
    .filter(
      (r) => r.service === service && r.target.text === target && path.basename(r.file) === '70-tmpl.policy',
    )
    .map((r) => {
      expect(r.argument, `${service} at line ${r.line} must name its argument`).not.toBeNull();
      expect(r.action.type).toBe('allow');
      return r.argument!.slice(1);
    })
    .sort();
}

describe('70-tmpl.policy', () => {
  test("is the only repository policy file, sorted after the user's 30-user.policy", () => {
    const files = [...new Set(rules.map((r) => path.relative(REPO, r.file)))];
    expect(files).toEqual(['qrexec-policy/70-tmpl.policy', 'sim/qrexec/base-policy/90-sim-default.policy']);
  });

  test('grants property and feature changes for exactly the names tmpl changes', () => {
    const properties = [...TEMPLATE_SETTABLE_PROPERTIES].sort();
    const features = [...TEMPLATE_SETTABLE_FEATURES].sort();
    expect(new Set(features).size).toBe(features.length);
    expect(grantedArguments('admin.vm.property.Set')).toEqual(properties);
    expect(grantedArguments('admin.vm.property.Reset')).toEqual(properties);
    expect(grantedArguments('admin.vm.feature.Set')).toEqual(features);
    expect(grantedArguments('admin.vm.feature.Remove')).toEqual(features);
    for (const name of properties) {
      expect(decide(`admin.vm.property.Set+${name}`, 'mgmt', 'debian-12')).toBe('dom0');
      expect(decide(`admin.vm.property.Set+${name}`, 'mgmt', 'work')).toBe('DENY');
    }
    for (const name of features) {
      expect(decide(`admin.vm.feature.Set+${name}`, 'mgmt', 'debian-12')).toBe('dom0');
      expect(decide(`admin.vm.feature.Remove+${name}`, 'mgmt', 'debian-12')).toBe('dom0');
      expect(decide(`admin.vm.feature.Set+${name}`, 'mgmt', 'work')).toBe('DENY');
    }
  });

  test('a tmpl-manager runs the Admin API calls tmpl needs, redirected to dom0', () => {
    const allowed: [string, string][] = [
      ['admin.vm.List', 'dom0'],
      ['admin.vm.List', 'debian-12'],
      ['admin.property.Get+default_pool', 'dom0'],
      ['admin.pool.Info+varlibqubes', 'dom0'],
      ['admin.label.List', 'dom0'],
      ['admin.vm.Create.TemplateVM', 'dom0'],
      ['admin.vm.CreateInPool.TemplateVM', '@adminvm'],
      ['admin.vm.property.Get+netvm', 'debian-12'],
      ['admin.vm.property.Set+netvm', 'debian-12'],
      ['admin.vm.property.Reset+netvm', 'debian-12'],
      ['admin.vm.feature.Set+template-name', 'debian-12'],
      ['admin.vm.feature.List', 'debian-12'],
      ['admin.vm.feature.Get+template-name', 'debian-12'],
      ['admin.vm.feature.Remove+qrexec', 'debian-12'],
      ['admin.vm.volume.List', 'debian-12'],
      ['admin.vm.volume.Info+volatile', 'debian-12'],
      ['admin.vm.volume.Info+kernel', 'debian-12'],
      ['admin.vm.volume.Info+root', 'debian-12'],
      ['admin.vm.volume.Info+private', 'debian-12'],
      ['admin.vm.volume.ImportWithSize+root', 'debian-12'],
      ['admin.vm.volume.Clear+private', 'debian-12'],
      ['admin.vm.volume.ListSnapshots+root', 'debian-12'],
      ['admin.vm.volume.ListSnapshots+private', 'debian-12'],
      ['admin.vm.volume.Revert+root', 'debian-12'],
      ['admin.vm.volume.Revert+private', 'debian-12'],
      ['admin.vm.volume.Set.revisions_to_keep+root', 'debian-12'],
      ['admin.vm.volume.Set.revisions_to_keep+private', 'debian-12'],
      ['admin.vm.Remove', 'debian-12'],
      ['admin.vm.Start', 'debian-12'],
      ['admin.vm.Shutdown', 'debian-12'],
      ['admin.vm.Shutdown+wait', 'debian-12'],
      ['admin.vm.Kill', 'debian-12'],
    ];
    for (const [call, target] of allowed)
      expect([call, target, decide(call, 'mgmt', target)]).toEqual([call, target, 'dom0']);
    expect(decide('qubes.PostInstall', 'mgmt', 'debian-12')).toBe('debian-12');
  });

  test('only where needed: not on AppVMs, not other volumes, not other methods', () => {
    const refused: [string, string][] = [
      ['admin.vm.property.Set+netvm', 'work'],
      ['admin.vm.feature.Set+x', 'work'],
      ['admin.vm.feature.Set+x', 'debian-12'],
      ['admin.vm.feature.Set+service.sshd', 'debian-12'],
      ['admin.vm.feature.Remove+os', 'debian-12'],
      // remove --disassoc and purge change AppVMs and global properties: dom0 only.
      ['admin.vm.feature.Set+template-dummy', 'debian-12'],
      ['admin.vm.property.Set+template', 'work'],
      ['admin.vm.property.Get+template', 'work'],
      ['admin.vm.property.Set+label', 'debian-12'],
      ['admin.vm.property.Set+kernelopts', 'debian-12'],
      ['admin.vm.property.Set+default_dispvm', 'debian-12'],
      ['admin.vm.property.Reset+label', 'debian-12'],
      ['admin.vm.volume.List', 'work'],
      ['admin.vm.volume.Info+root', 'work'],
      ['admin.vm.Remove', 'work'],
      ['admin.vm.Start', 'work'],
      ['admin.vm.volume.ImportWithSize+private', 'debian-12'],
      ['admin.vm.volume.Import+root', 'debian-12'],
      ['admin.vm.volume.Clear+root', 'debian-12'],
      ['admin.vm.volume.Revert+volatile', 'debian-12'],
      ['admin.vm.volume.Revert+root', 'work'],
      ['admin.vm.volume.ListSnapshots+private', 'work'],
      ['admin.vm.volume.Set.revisions_to_keep+root', 'work'],
      ['admin.vm.volume.Set.rw+root', 'debian-12'],
      ['admin.vm.CreateDisposable', 'dom0'],
      ['admin.vm.tag.Set+x', 'debian-12'],
      ['admin.vm.Console', 'debian-12'],
      ['admin.vm.property.Set+default_dispvm', 'dom0'],
      ['admin.property.Set+default_template', 'dom0'],
      ['qubes.PostInstall', 'work'],
    ];
    for (const [call, target] of refused)
      expect([call, target, decide(call, 'mgmt', target)]).toEqual([call, target, 'DENY']);
  });

  test("tmpl setup: exactly the names it sets, on tmpl-dvm by name or a tmpl-worker qube, and a manager's default_dispvm", () => {
    for (const target of ['tmpl-dvm', '@tag:tmpl-worker']) {
      expect(grantedArguments('admin.vm.property.Set', target)).toEqual(
        [...SETUP_SETTABLE.dvmProperties].sort(),
      );
      expect(grantedArguments('admin.vm.property.Get', target)).toEqual(
        [...SETUP_SETTABLE.dvmProperties].sort(),
      );
      expect(grantedArguments('admin.vm.property.Reset', target)).toEqual([
        ...SETUP_SETTABLE.dvmResetProperties,
      ]);
      expect(grantedArguments('admin.vm.feature.Set', target)).toEqual([...SETUP_SETTABLE.dvmFeatures]);
    }
    expect(grantedArguments('admin.vm.tag.Set', 'tmpl-dvm')).toEqual([...SETUP_SETTABLE.dvmTags]);
    expect(grantedArguments('admin.vm.property.Set', '@tag:tmpl-manager')).toEqual([
      ...SETUP_SETTABLE.managerProperties,
    ]);
    const allowed: [string, string][] = [
      ['admin.vm.Create.AppVM+debian-12', 'dom0'],
      ['admin.vm.List', 'tmpl-dvm'],
      ['admin.vm.List', 'worker-dvm'],
      ['admin.vm.tag.List', 'tmpl-dvm'],
      ['admin.vm.tag.Set+tmpl-worker', 'tmpl-dvm'],
      ['admin.vm.property.Set+template_for_dispvms', 'tmpl-dvm'],
      ['admin.vm.property.Set+netvm', 'worker-dvm'],
      ['admin.vm.property.Reset+netvm', 'tmpl-dvm'],
      ['admin.vm.feature.Set+preload-dispvm-max', 'worker-dvm'],
      ['admin.vm.property.Get+default_dispvm', 'mgmt'],
      ['admin.vm.property.Set+default_dispvm', 'mgmt'],
      ['admin.vm.property.Set+default_dispvm', 'mgmt2'],
    ];
    for (const [call, target] of allowed)
      expect([call, target, decide(call, 'mgmt', target)]).toEqual([call, target, 'dom0']);
    const refused: [string, string][] = [
      ['admin.vm.property.Set+template_for_dispvms', 'work'],
      ['admin.vm.property.Set+netvm', 'default-dvm'],
      ['admin.vm.property.Set+label', 'tmpl-dvm'],
      ['admin.vm.property.Set+default_dispvm', 'work'],
      ['admin.vm.property.Set+default_dispvm', 'tmpl-dvm'],
      ['admin.vm.tag.Set+tmpl-worker', 'work'],
      ['admin.vm.tag.Set+tmpl-manager', 'tmpl-dvm'],
      ['admin.vm.tag.Set+tmpl-manager', 'mgmt'],
      ['admin.vm.tag.Set+tmpl-worker', 'worker-dvm'],
      ['admin.vm.feature.Set+service.sshd', 'tmpl-dvm'],
      ['admin.vm.Remove', 'tmpl-dvm'],
      ['admin.vm.Create.DispVM', 'dom0'],
      ['admin.vm.Create.StandaloneVM', 'dom0'],
    ];
    for (const [call, target] of refused)
      expect([call, target, decide(call, 'mgmt', target)]).toEqual([call, target, 'DENY']);
    expect(decide('admin.vm.property.Set+default_dispvm', 'work', 'work')).toBe('DENY');
  });

  test('untagged qubes and disposables get nothing', () => {
    expect(decide('admin.vm.List', 'work', 'dom0')).toBe('DENY');
    expect(decide('admin.vm.volume.ImportWithSize+root', 'work', 'debian-12')).toBe('DENY');
    expect(decide('admin.vm.List', 'disp1', 'dom0')).toBe('DENY');
    expect(decide('tmpl.Worker', 'work', '@dispvm')).toBe('DENY');
    expect(decide('tmpl.Worker', 'disp1', '@dispvm')).toBe('DENY');
  });

  test('tmpl.Worker only in a new disposable', () => {
    expect(decide('tmpl.Worker', 'mgmt', '@dispvm')).toBe('@dispvm:default-dvm');
    expect(decide('tmpl.Worker+x', 'mgmt', '@dispvm:worker-dvm')).toBe('@dispvm:worker-dvm');
    expect(decide('tmpl.Worker', 'mgmt', '@dispvm:default-dvm')).toBe('DENY');
    expect(decide('tmpl.Worker', 'mgmt', 'default-dvm')).toBe('DENY');
    expect(decide('tmpl.Worker', 'mgmt', 'work')).toBe('DENY');
    expect(decide('tmpl.Worker', 'mgmt', 'dom0')).toBe('DENY');
    expect(decide('tmpl.Worker', 'mgmt', '')).toBe('DENY');
  });

  test('base policy: any qube may report features after qubes.PostInstall', () => {
    expect(decide('qubes.FeaturesRequest', 'debian-12', 'dom0')).toBe('dom0');
    expect(decide('qubes.FeaturesRequest', 'debian-12', 'work')).toBe('DENY');
  });
});
