#!/usr/bin/env node
// The simulator's qubesdb-read (qubes-core-qubesdb) as a qube sees it: `qubesdb-read /name` prints
// the calling qube's name, $TMPL_SIM_SOURCE_VM (default mgmt), the qube qrexec-client-vm calls
// from. Any other key: "Failed to read" and exit 1, as for a key qubesdb lacks.
const keys = process.argv.slice(2);
if (keys.length !== 1 || keys[0] !== '/name') {
  process.stderr.write(`Failed to read ${keys.join(' ')}\n`);
  process.exit(1);
}
process.stdout.write(`${process.env.TMPL_SIM_SOURCE_VM || 'mgmt'}\n`);
