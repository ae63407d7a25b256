#!/usr/bin/env node
// The simulator's dom0 /etc/qubes-rpc/admin.vm.volume.Import: `SCRIPT VOLUME` with
// QREXEC_REMOTE_DOMAIN and QREXEC_REQUESTED_TARGET set; qubesd's reply on stdout.
// The qubesd socket is $TMPL_QUBESD_SOCKET (its internal socket lies next to it).
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const { volumeImportMain } = await import('../admin/volume-import.ts');
const status = await volumeImportMain(process.argv.slice(2), fileURLToPath(import.meta.url), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.stdout.write('', () => process.exit(status));
