import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

describe('without Qubes and without the simulator', () => {
  it('says that no Admin API was found and how to try the simulator, exit 2', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TMPL_')));
    env.TMPL_QUBESD_SOCKET = '/nonexistent/qubesd.sock';
    env.TMPL_QREXEC_CLIENT_VM = '/nonexistent/qrexec-client-vm';
    const result = await promisify(execFile)(
      process.execPath,
      [path.join(root, 'bin/tmpl.mjs'), 'list', '--json'],
      { env },
    ).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    const json = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(json.ok).toBe(false);
    expect(json.error.code).toBe('qubes.no-admin-api');
    expect(result.stderr).toContain('no Qubes Admin API found');
    expect(result.stderr).toContain('tmpl-sim up');
  });
});
