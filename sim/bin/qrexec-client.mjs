#!/usr/bin/env node
// The simulator's dom0 qrexec-client: `qrexec-client -d VM [-w TIMEOUT] "DEFAULT:QUBESRPC SERVICE+ARG SOURCE"`.
// No policy; the target must be running. Exit status: the service's, 125 on failure, 127 no such service.
import { register } from 'tsx/esm/api';

register();
const { qrexecClientMain } = await import('../qrexec/client-cli.ts');
const status = await qrexecClientMain(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.stdout.write('', () => process.exit(status));
