#!/usr/bin/env node
// The simulator's qrexec-client-vm: `qrexec-client-vm TARGET SERVICE[+ARG]`, the calling VM is
// $TMPL_SIM_SOURCE_VM (default mgmt). Exit status: the service's, 126 refused, 125 other failure.
import { qrexecClientVmMain } from './qrexec-client-lib.mjs';

const streams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
const status = await qrexecClientVmMain(process.argv.slice(2), process.env, streams);
process.stdout.write('', () => process.exit(status));
