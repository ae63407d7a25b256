/**
 * Without Qubes (no qubesd socket, no qrexec-client-vm) and without the simulator, tmpl says so
 * with its own code and exit status 2, and tells how to try the simulator.
 */
import { describe, expect, it } from 'vitest';
import { expectFailure, runTmplAlone } from '../../helpers/kit/index.ts';

describe('without Qubes and without the simulator', () => {
  it('says that no Admin API was found and how to try the simulator, exit 2', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TMPL_')));
    env.TMPL_QUBESD_SOCKET = '/nonexistent/qubesd.sock';
    env.TMPL_QREXEC_CLIENT_VM = '/nonexistent/qrexec-client-vm';
    const result = await runTmplAlone(['list', '--json'], { env, onlyEnv: true });
    expectFailure(result, { code: 'qubes.no-admin-api', exit: 2 });
    expect(result.stderr).toContain('no Qubes Admin API found');
    expect(result.stderr).toContain('tmpl-sim up');
  });
});
