/**
 * The interruption in-process: the trap turns the first SIGINT, SIGTERM or SIGHUP into an abort
 * whose reason is the run's InterruptedError (exit status as a shell shows it), later ones only
 * report; the CLI maps that error to its exit status; a qrexec service call ends at the abort,
 * its child killed, and reports the interruption rather than a failure of its own.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../../orchestrator/cli/main.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import {
  INTERRUPT_SIGNALS,
  InterruptedError,
  interruptionOr,
  trapInterrupts,
} from '../../../orchestrator/cli/interrupt.ts';
import { runVmService } from '../../../orchestrator/qubes/vm-service.ts';

describe('trapInterrupts', () => {
  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${signal} aborts with an InterruptedError, exit status ${status}`, () => {
      const target = new EventEmitter();
      const trap = trapInterrupts(target);
      expect(trap.signal.aborted).toBe(false);
      target.emit(signal);
      expect(trap.signal.aborted).toBe(true);
      const reason: unknown = trap.signal.reason;
      expect(reason).toBeInstanceOf(InterruptedError);
      expect((reason as InterruptedError).code).toBe('interrupted');
      expect((reason as InterruptedError).signal).toBe(signal);
      expect(exitCodeFor(reason)).toBe(status);
      expect(() => trap.signal.throwIfAborted()).toThrow(reason);
      trap.release();
    });
  }

  it('a repeated signal keeps the first reason and is only reported', () => {
    const target = new EventEmitter();
    const repeats: string[] = [];
    const trap = trapInterrupts(target, { onRepeat: (s) => repeats.push(s) });
    target.emit('SIGTERM');
    const first: unknown = trap.signal.reason;
    target.emit('SIGINT');
    target.emit('SIGINT');
    expect(trap.signal.reason).toBe(first);
    expect((first as InterruptedError).signal).toBe('SIGTERM');
    expect(repeats).toEqual(['SIGINT', 'SIGINT']);
    trap.release();
  });

  it('release removes every handler', () => {
    const target = new EventEmitter();
    const trap = trapInterrupts(target);
    for (const s of INTERRUPT_SIGNALS) expect(target.listenerCount(s)).toBe(1);
    trap.release();
    for (const s of INTERRUPT_SIGNALS) expect(target.listenerCount(s)).toBe(0);
    target.emit('SIGINT');
    expect(trap.signal.aborted).toBe(false);
  });

  it('interruptionOr reports the interruption in place of what the work failed with', () => {
    const failure = new OrchestratorError('worker.protocol', 'stream ended');
    const target = new EventEmitter();
    const trap = trapInterrupts(target);
    expect(interruptionOr(failure, trap.signal)).toBe(failure);
    expect(interruptionOr(failure, undefined)).toBe(failure);
    target.emit('SIGHUP');
    expect(interruptionOr(failure, trap.signal)).toBe(trap.signal.reason);
    // an abort for another reason is not an interruption
    const other = new AbortController();
    other.abort(new Error('timeout'));
    expect(interruptionOr(failure, other.signal)).toBe(failure);
    trap.release();
  });
});

describe('runVmService under an interruption', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tmpl-interrupt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A qrexec-client-vm whose service never ends; it writes its pid first. */
  const client = path.join(dir, 'qrexec-client-vm');
  const pidFile = path.join(dir, 'pid');
  writeFileSync(client, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`);
  chmodSync(client, 0o755);
  const env = {
    mode: 'vm' as const,
    qubesdSocket: '/nonexistent',
    qrexecClient: '/nonexistent',
    qrexecClientVm: client,
    qrexecServicesDir: '/nonexistent',
  };

  it('ends the call at the abort, kills its child, and throws the interruption', async () => {
    const target = new EventEmitter();
    const trap = trapInterrupts(target);
    const started = Date.now();
    const call = runVmService(env, 'fedora-x', 'qubes.PostInstall', { signal: trap.signal });
    call.catch(() => {});
    for (let i = 0; i < 200; i++) {
      try {
        if (readFileSync(pidFile, 'utf8').trim()) break;
      } catch {
        // not yet written
      }
      await sleep(10);
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    target.emit('SIGINT');
    await expect(call).rejects.toBe(trap.signal.reason);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(() => process.kill(pid, 0)).toThrow();
    trap.release();
  });

  it('does not start the call once interrupted', async () => {
    const target = new EventEmitter();
    const trap = trapInterrupts(target);
    target.emit('SIGTERM');
    rmSync(pidFile, { force: true });
    await expect(runVmService(env, 'fedora-x', 'qubes.PostInstall', { signal: trap.signal })).rejects.toBe(
      trap.signal.reason,
    );
    expect(() => readFileSync(pidFile)).toThrow();
    trap.release();
  });
});
