#!/usr/bin/env node
// The qrexec service tmpl.Worker (run in a disposable VM): frames on stdin/stdout, logs on stderr.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../dispvm-worker/service.ts');
process.exitCode = await main();
