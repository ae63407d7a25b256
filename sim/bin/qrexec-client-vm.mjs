#!/usr/bin/env node
// The simulator's qrexec-client-vm: `qrexec-client-vm TARGET SERVICE[+ARG]`, the calling VM is
// $TMPL_SIM_SOURCE_VM (default mgmt). Exit status: the service's, 126 refused, 125 other failure.
import { register } from 'tsx/esm/api';

register();
const { qrexecClientVmMain } = await import('../qrexec/client-cli.ts');
const status = await qrexecClientVmMain(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.stdout.write('', () => process.exit(status));
