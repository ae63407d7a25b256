#!/usr/bin/env node
// The simulator's dom0 qrexec-client: `qrexec-client -d VM [-w TIMEOUT] "DEFAULT:QUBESRPC SERVICE+ARG SOURCE"`.
// No policy; the target must be running. Exit status: the service's, 125 on failure, 127 no such service.
import { qrexecClientMain } from './qrexec-client-lib.mjs';

const streams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
const status = await qrexecClientMain(process.argv.slice(2), process.env, streams);
process.stdout.write('', () => process.exit(status));
