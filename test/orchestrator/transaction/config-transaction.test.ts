/**
 * ConfigTransaction against the simulated qubesd (no qrexec): every change records the old value
 * first, and rollback() restores them all, newest first, after a change that Qubes refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AdminClient } from '../../../orchestrator/qubes/admin-client.ts';
import { createTransport } from '../../../orchestrator/qubes/admin-transport.ts';
import { ConfigTransaction } from '../../../orchestrator/transaction/config-transaction.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { resolveQubesEnvironment } from '../../../orchestrator/qubes/environment.ts';
import { startSimulator, type Simulator } from '../../../sim/simulator.ts';

const VM = 'tpl-tx';
let dir: string;
let sim: Simulator;
let admin: AdminClient;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-tx-'));
  sim = await startSimulator({ dir: path.join(dir, 'sim'), seed: true, qrexec: false });
  admin = new AdminClient(createTransport(resolveQubesEnvironment({ ...sim.env })));
  await admin.createTemplate(VM, 'black');
  await admin.setFeature(VM, 'template-version', '4.2.0');
  await admin.setProperty(VM, 'virt_mode', 'pvh');
});

afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

async function state() {
  return {
    features: Object.fromEntries(await admin.getFeatures(VM)),
    virtMode: await admin.getProperty(VM, 'virt_mode'),
    netvm: await admin.getProperty(VM, 'netvm'),
    installedByRpm: await admin.getProperty(VM, 'installed_by_rpm'),
  };
}

it('a refused change: every earlier change is undone, absent features removed, defaults reset', async () => {
  const before = await state();
  expect(before.netvm.isDefault).toBe(true);
  const tx = new ConfigTransaction(admin, VM, log, { recording: true });
  await tx.setProperty('virt_mode', 'hvm');
  await tx.setProperty('installed_by_rpm', 'False');
  await tx.setFeature('template-version', '4.3.0');
  await tx.setFeature('menu-items', 'firefox.desktop');
  await tx.setProperty('netvm', '');
  await tx.setFeature('template-version', '4.4.0'); // a second change keeps the first old value
  const refused = await tx.setFeature('gui', 'a\nb').catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(OrchestratorError);
  expect((refused as OrchestratorError).code).toBe('qubes.protocol');
  expect((await state()).features['template-version']).toBe('4.4.0');
  expect(await tx.rollback()).toEqual([]);
  expect(await state()).toEqual(before);
});

it('without recording, nothing is read and nothing is undone (a template created by this install)', async () => {
  const tx = new ConfigTransaction(admin, VM, log, { recording: false });
  await tx.setFeature('menu-items', 'x.desktop');
  expect(await tx.rollback()).toEqual([]);
  expect(await admin.getFeature(VM, 'menu-items')).toBe('x.desktop');
});
