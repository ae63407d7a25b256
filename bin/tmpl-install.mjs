#!/usr/bin/env node
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../orchestrator/cli.ts');
process.exitCode = await main(['install', ...process.argv.slice(2)]);
