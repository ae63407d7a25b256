#!/usr/bin/env node
// Fails (exit 1) when the TypeScript files under the given folders (default: the project's
// source, test and tool folders) import each other in a circle, and prints each circle found.
// Every static `import`/`export ... from` of a relative .ts path counts, `import type` too: a
// circle of types is still a knot a reader has to untie. A dynamic `import()` does not count; it
// is how a module loads, when needed, one that must not load with it (cleanup-journal.ts loads
// guard-undo.ts only in the guard process).
//
// Usage: node scripts/check-import-cycles.mjs [DIR|FILE...]   (run by `npm run lint`)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const DEFAULT_ROOTS = [
  'index.ts',
  'protocol',
  'dispvm-worker',
  'orchestrator',
  'sim',
  'test',
  'bench',
  'fuzz',
];
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git']);

function tsFiles(entry, out) {
  const stat = statSync(entry, { throwIfNoEntry: false });
  if (!stat) return out;
  if (stat.isFile()) {
    if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(path.resolve(entry));
    return out;
  }
  for (const name of readdirSync(entry).sort()) if (!SKIP.has(name)) tsFiles(path.join(entry, name), out);
  return out;
}

/** The relative .ts files a file imports statically. */
function importsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const targets = [];
  for (const statement of source.statements) {
    const specifier =
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.'))
      targets.push(path.resolve(path.dirname(file), specifier.text));
  }
  return targets;
}

/** Tarjan's strongly connected components: each component of more than one file is a circle. */
function circles(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (node) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indices.get(next)));
    }
    if (low.get(node) === indices.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return found;
}

/** One concrete circle through the component's first file, for the message. */
function onePath(graph, component) {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const chain = [start];
        for (let at = node; at !== start; at = previous.get(at)) chain.splice(1, 0, at);
        return [...chain, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component;
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : DEFAULT_ROOTS).flatMap((root) => tsFiles(root, []));
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const found = circles(graph);
const shown = (file) => path.relative(process.cwd(), file);
for (const component of found)
  process.stderr.write(`import circle: ${onePath(graph, component).map(shown).join(' -> ')}\n`);
if (found.length > 0) {
  process.stderr.write(`${found.length} import circle(s) among ${files.length} files\n`);
  process.exit(1);
}
process.stdout.write(`no import circle among ${files.length} files\n`);
