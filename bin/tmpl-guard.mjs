#!/usr/bin/env node
// tmpl's cleanup guard (orchestrator/cleanup-journal.ts): reads `+KIND NAME` / `-KIND NAME` lines
// until stdin closes, then undoes what is still registered. Plain Node until there is something
// to undo, so that holding the lock costs no TypeScript loading.
import { createInterface } from 'node:readline';

// tmpl may be gone: its end of our stderr with it.
process.stderr.on('error', () => {});
// The guard runs in a session of its own; should one of these still reach it (a second Ctrl-C,
// a signal sent to the wrong group), it finishes its work: it ends when tmpl's pipe closes.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});

const pending = new Set();
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const match = /^([+-])(disposable|template) ([A-Za-z0-9_.-]{1,64})$/.exec(line);
  if (!match) continue;
  const entry = `${match[2]} ${match[3]}`;
  if (match[1] === '+') pending.add(entry);
  else pending.delete(entry);
}
if (pending.size > 0) {
  const { register } = await import('tsx/esm/api');
  register();
  const { undo } = await import('../orchestrator/guard-undo.ts');
  process.exitCode = await undo([...pending].map((e) => e.split(' ')));
}
