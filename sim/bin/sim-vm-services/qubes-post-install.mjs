#!/usr/bin/env node
// The simulated template's qubes.PostInstall (core-agent-linux runs /etc/qubes/post-install.d/*.sh):
// reports the template's features to dom0 with qubes.FeaturesRequest, as `KEY=VALUE` lines on the
// call's stdin (the simulator's stand-in for qubesdb's /features-request/).
// Test knobs (set through the service table's env):
//   TMPL_SIM_POST_INSTALL_FAIL=<status>  exit with that status after printing an error
//   TMPL_SIM_POST_INSTALL_FEATURES=<json object>  the features to report (default: qrexec, gui,
//     os and supported-rpc.NAME=1 for each service of TMPL_SIM_RPC_SERVICES, set by the daemon)
//   TMPL_SIM_POST_INSTALL_DELAY_MS=<ms>  take this long first (a slow first boot), to interrupt it
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const delay = Number(process.env.TMPL_SIM_POST_INSTALL_DELAY_MS ?? 0);
if (Number.isFinite(delay) && delay > 0) await sleep(delay);
const fail = process.env.TMPL_SIM_POST_INSTALL_FAIL;
if (fail) {
  process.stderr.write('qubes.PostInstall: simulated failure\n');
  process.exit(Number(fail) || 1);
}
const features = process.env.TMPL_SIM_POST_INSTALL_FEATURES
  ? JSON.parse(process.env.TMPL_SIM_POST_INSTALL_FEATURES)
  : {
      qrexec: '1',
      gui: '1',
      os: 'Linux',
      // As core-agent-linux's post-install script does for each service in /etc/qubes-rpc.
      ...Object.fromEntries(
        (process.env.TMPL_SIM_RPC_SERVICES ?? '')
          .split(' ')
          .filter((name) => name !== '')
          .map((name) => [`supported-rpc.${name}`, '1']),
      ),
    };
const request = Object.entries(features)
  .map(([key, value]) => `${key}=${value}\n`)
  .join('');
const client = process.env.TMPL_QREXEC_CLIENT_VM;
if (!client) {
  process.stderr.write('qubes.PostInstall: TMPL_QREXEC_CLIENT_VM is not set\n');
  process.exit(1);
}
const child = spawn(process.execPath, [client, 'dom0', 'qubes.FeaturesRequest'], {
  stdio: ['pipe', 'inherit', 'inherit'],
});
child.stdin.end(request);
child.on('close', (code) => process.exit(code ?? 1));
