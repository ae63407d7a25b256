/**
 * `npm run bench:install`: template installs end to end on the simulator, next to the incumbent's
 * dom0 pipeline on the same packages, at the disposable start latencies of a real machine.
 *
 * Packages are forged as the Qubes builder makes them: a sparse root.img (1 GiB with 300 MiB of
 * data, and 2 GiB with 600 MiB) of semi-compressible data (random pages, text-like pages,
 * table-like pages), archived with GNU sparse tar, split into parts, zstd payload, signed, in a
 * signed repository on 127.0.0.1.
 *
 * tmpl: `tmpl install --skip-start` from dom0; the worker runs in a disposable (bubblewrap),
 * downloads over HTTP, verifies, decompresses and streams frames; the orchestrator verifies and
 * imports through admin.vm.volume.ImportWithSize. Each size runs at three disposable costs
 * (install-report.ts defaultLatencies: 0 s; 1 s with preloaded disposables; 6 s cold), set in
 * the simulator (sim/admin/disposables.ts) between runs. Measured: wall time, time to the first
 * import (and from the fetching disposable being ready, from the simulator's event record), the
 * disposables used, peak RSS of the orchestrator (a --require probe records /proc/self/status
 * VmHWM and /proc/self/io at exit) and of the workers (sampled), CPU per component.
 * Then three templates in one command beside three incumbent installs in a row.
 *
 * The incumbent (qvm-template + qvm-template-postprocess in dom0), with the package already in
 * dom0 (its download through the UpdateVM is NOT counted, which favours it), uses no disposable:
 *   1. rpmkeys --checksig with _pkgverify_level all;
 *   2. staged: `rpm2archive - | tar xz` of the template directory (every part on dom0's disk),
 *      then `cat root.img.part.* | tar xSO` into the volume with the import script's dd;
 *   3. streaming (qvm-template-postprocess of R4.2+): small files and part 00 extracted, then
 *      `rpm2archive - | tar xzSO parts | tar xSO` into the volume with the same dd.
 *
 * Options: --quick (a short run: 256 MiB/64 MiB and 512 MiB/128 MiB images, the incumbent's
 * streaming steps only), --sizes 1024/300,2048/600 (SIZE/DATA MiB), --latencies 0,1,6 (a subset
 * of the three), --cleanup-ms N (a disposable's clean-up after Kill at 1 s and 6 s; default 0),
 * --no-trio (skip the three-template run), --part-mib N (1024, the builder's), --keep (leave the
 * work directory), --skip-incumbent, --cpu-prof (V8 CPU profiles of the orchestrator and its Node
 * children in the work directory's cpu-profiles/).
 */
import { spawn } from 'node:child_process';
import { createHash, createCipheriv } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DisposableEvent } from '../sim/admin/disposables.ts';
import { createScenario, type Scenario, type ScenarioTemplate } from '../sim/scenario.ts';
import { call, ok } from '../test/helpers/admin-raw-client.ts';
import {
  defaultLatencies,
  sizeReport,
  trioReport,
  type ImageSize,
  type IncumbentFigures,
  type Latency,
  type TmplFigures,
} from './install-report.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const PAGE = 4096;
const EXTENT_BYTES = 8 * MiB;
/** dd flags of Qubes' admin.vm.volume.Import script (qubes-core-admin, qubes-rpc/admin.vm.volume.Import). */
const IMPORT_DD = ['bs=128K', 'iflag=fullblock', 'conv=sparse,notrunc,fdatasync'];

interface Options {
  sizes: ImageSize[];
  latencies: Latency[];
  partMiB: number;
  quick: boolean;
  trio: boolean;
  keep: boolean;
  skipIncumbent: boolean;
  cpuProf: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const text = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  const num = (name: string, fallback: number): number => {
    const value = text(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer`);
    return n;
  };
  const quick = argv.includes('--quick');
  const sizes = (text('--sizes') ?? (quick ? '256/64,512/128' : '1024/300,2048/600'))
    .split(',')
    .map((pair) => {
      const [sizeMiB, dataMiB] = pair.split('/').map(Number);
      if (
        !Number.isSafeInteger(sizeMiB) ||
        !Number.isSafeInteger(dataMiB) ||
        dataMiB! <= 0 ||
        dataMiB! * 2 > sizeMiB!
      )
        throw new Error(`--sizes: '${pair}' is not SIZE/DATA in MiB with SIZE at least twice DATA`);
      return { sizeMiB: sizeMiB!, dataMiB: dataMiB! };
    });
  const all = defaultLatencies(num('--cleanup-ms', 0));
  const wanted = (text('--latencies') ?? '0,1,6').split(',');
  const latencies = all.filter((l) => wanted.includes(l.label.split(' ')[0]!));
  if (latencies.length === 0) throw new Error('--latencies: choose among 0, 1, 6');
  return {
    sizes,
    latencies,
    partMiB: num('--part-mib', 1024) || 1024,
    quick,
    trio: !argv.includes('--no-trio'),
    keep: argv.includes('--keep'),
    skipIncumbent: argv.includes('--skip-incumbent'),
    cpuProf: argv.includes('--cpu-prof'),
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there been one all we their has would when if so no will can more ' +
  'usr lib share bin etc var systemd python3 site-packages locale LC_MESSAGES firefox gnome x86_64 ' +
  'config include kernel modules firmware icons hicolor png svg desktop mime xml json yaml'
).split(' ');

/**
 * Page contents of an installed system, roughly: a third random (compressed binaries, media),
 * a third text, a third structured tables. zstd -3 shrinks the mix to about half.
 */
class PageMaker {
  private readonly cipher;
  private readonly words: Uint8Array[];
  private counter = 0;

  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    this.words = WORDS.map((w) => new TextEncoder().encode(`${w} `));
  }

  fill(out: Uint8Array): void {
    const random = new Uint8Array(this.cipher.update(new Uint8Array(out.length)));
    for (let page = 0; page < out.length; page += PAGE) {
      const kind = random[page]! % 3;
      const view = out.subarray(page, page + PAGE);
      if (kind === 0) {
        view.set(random.subarray(page, page + PAGE));
      } else if (kind === 1) {
        let at = 0;
        let r = 0;
        while (at < PAGE) {
          const word = this.words[random[page + (r++ & (PAGE - 1))]! % this.words.length]!;
          const n = Math.min(word.length, PAGE - at);
          for (let i = 0; i < n; i++) view[at + i] = word[i]!;
          at += n;
        }
      } else {
        for (let i = 0; i < PAGE; i += 8) {
          const n = this.counter++;
          view[i] = n & 0xff;
          view[i + 1] = (n >> 8) & 0xff;
          view[i + 2] = 0x10;
          view[i + 3] = random[page + (i & 0xff)]! & 0x0f;
          view[i + 4] = 0x7f;
          view[i + 5] = 0x45;
          view[i + 6] = 1;
          view[i + 7] = 0;
        }
      }
    }
  }
}

/** Writes the sparse image; returns the sha256 of its dense contents. */
async function makeImage(file: string, sizeBytes: number, dataBytes: number): Promise<string> {
  const extents = Math.ceil(dataBytes / EXTENT_BYTES);
  const stride = Math.floor(sizeBytes / extents / PAGE) * PAGE;
  const maker = new PageMaker('tmpl-bench-image');
  const handle = await open(file, 'w');
  const chunk = new Uint8Array(EXTENT_BYTES);
  const layout: { offset: number; length: number }[] = [];
  try {
    let left = dataBytes;
    for (let i = 0; i < extents; i++) {
      const length = Math.min(EXTENT_BYTES, left);
      maker.fill(chunk.subarray(0, length));
      await handle.write(chunk, 0, length, i * stride);
      layout.push({ offset: i * stride, length });
      left -= length;
    }
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
  return denseSha256(file);
}

async function denseSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Probe {
  pid: number;
  argv: string[];
  hwmKiB: number;
  /** Written by the process's own threads. */
  ownWriteBytes: number;
  /** Including its reaped children (the import script). */
  treeWriteBytes: number;
  wchar: number;
  cpuMs: number;
  childrenCpuMs: number;
}

/**
 * A --require preload: at exit, each Node process of the run records its own counters. Linux adds
 * a reaped child's I/O and CPU to its parent's totals, so the process's own share is taken from
 * its threads (/proc/self/task/* /io) and from utime/stime, the children's from cutime/cstime.
 */
const PROBE_SOURCE = `'use strict';
const fs = require('node:fs');
const dir = process.env.TMPL_BENCH_PROBE_DIR;
const profDir = process.env.TMPL_BENCH_CPU_PROF_DIR;
let session;
if (profDir) {
  // --cpu-prof is refused in NODE_OPTIONS; the inspector's in-thread session answers synchronously.
  session = new (require('node:inspector').Session)();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
}
process.on('exit', () => {
  if (session) {
    session.post('Profiler.stop', (error, result) => {
      if (!error) {
        fs.mkdirSync(profDir, { recursive: true });
        fs.writeFileSync(profDir + '/' + process.pid + '.cpuprofile', JSON.stringify(result.profile));
      }
    });
  }
  try {
    const field = (text, name) => Number((new RegExp('^' + name + ':\\\\s*(\\\\d+)', 'm').exec(text) || [])[1] || NaN);
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const io = fs.readFileSync('/proc/self/io', 'utf8');
    let ownWriteBytes = 0;
    for (const tid of fs.readdirSync('/proc/self/task')) {
      ownWriteBytes += field(fs.readFileSync('/proc/self/task/' + tid + '/io', 'utf8'), 'write_bytes');
    }
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tick = 10;
    fs.writeFileSync(dir + '/probe-' + process.pid + '.json', JSON.stringify({
      pid: process.pid, argv: process.argv,
      hwmKiB: field(status, 'VmHWM'), ownWriteBytes, treeWriteBytes: field(io, 'write_bytes'),
      wchar: field(io, 'wchar'),
      cpuMs: (Number(f[11]) + Number(f[12])) * tick, childrenCpuMs: (Number(f[13]) + Number(f[14])) * tick,
    }));
  } catch {}
});
`;

const WORKER_SAMPLE_MS = 100;

function descendsFromUs(pid: number): boolean {
  for (let at = pid, hops = 0; at > 1 && hops < 32; hops++) {
    if (at === process.pid) return true;
    const status = readFileSync(`/proc/${at}/status`, 'latin1');
    at = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return false;
}

/**
 * The workers run under bubblewrap in their own PID namespace, and their CPU time does not all
 * come back to this process when they are killed with their disposable: sample /proc instead
 * (each worker's last sample is kept; up to one interval of its tail is lost).
 */
function sampleWorkers(): { stop(): { cpuMs: number; hwmKiB: number } } {
  const seen = new Map<number, { cpuMs: number; hwmKiB: number }>();
  const sample = (): void => {
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p));
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
        if (!cmdline.includes('tmpl-worker.mjs') || cmdline.startsWith('bwrap') || cmdline.includes('/bwrap'))
          continue;
        if (!descendsFromUs(Number(pid))) continue; // other tmpl runs on this machine
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const status = readFileSync(`/proc/${pid}/status`, 'latin1');
        const hwm = Number(/^VmHWM:\s*(\d+)/m.exec(status)?.[1] ?? 0);
        seen.set(Number(pid), { cpuMs: (Number(f[11]) + Number(f[12])) * 10, hwmKiB: hwm });
      } catch {
        // gone meanwhile
      }
    }
  };
  const timer = setInterval(sample, WORKER_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      let cpuMs = 0;
      let hwmKiB = 0;
      for (const s of seen.values()) {
        cpuMs += s.cpuMs;
        hwmKiB = Math.max(hwmKiB, s.hwmKiB);
      }
      return { cpuMs, hwmKiB };
    },
  };
}

/** utime+stime and cutime+cstime of this process, in ms (USER_HZ 100). */
async function selfCpu(): Promise<{ own: number; children: number }> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { own: (Number(f[11]) + Number(f[12])) * 10, children: (Number(f[13]) + Number(f[14])) * 10 };
}

async function readProbes(dir: string): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('probe-'))
      probes.push(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Probe);
  }
  return probes;
}

interface TimedRun {
  wallMs: number;
  pid: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

function runTimed(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({
        wallMs: Number(process.hrtime.bigint() - started) / 1e6,
        pid: child.pid!,
        exitCode: code ?? -1,
        stdout,
        stderr,
      }),
    );
  });
}

/** Runs a shell pipeline with `set -o pipefail`; returns its wall time. */
async function shell(script: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const run = await runTimed(['/bin/bash', '-c', `set -euo pipefail\n${script}`], env);
  if (run.exitCode !== 0) throw new Error(`pipeline failed (exit ${run.exitCode}): ${script}\n${run.stderr}`);
  return run.wallMs;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

interface Stages {
  [stage: string]: number;
}

/** Milliseconds between the orchestrator's own log lines (pino, info level). */
function stagesOf(stderr: string, startedAt: number): Stages {
  const marks: [string, number][] = [];
  let disposables = 0;
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: number; msg?: string };
    try {
      entry = JSON.parse(line) as { time?: number; msg?: string };
    } catch {
      continue;
    }
    if (!entry.time || !entry.msg) continue;
    if (entry.msg === 'created disposable for the worker') {
      disposables++;
      marks.push([disposables === 1 ? 'disposable' : `disposable ${disposables}`, entry.time]);
    } else if (entry.msg === 'package header verified') marks.push(['header verified', entry.time]);
    else if (entry.msg === 'importing root volume') marks.push(['import started', entry.time]);
  }
  const stages: Stages = {};
  let previous = startedAt;
  for (const [name, time] of marks) {
    stages[`until ${name}`] = time - previous;
    previous = time;
  }
  stages['import to exit'] = Date.now() - previous;
  return stages;
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Removes an installed template through the Admin API, so the next run installs it afresh. */
async function removeTemplate(scenario: Scenario, name: string): Promise<void> {
  await ok(scenario.env.TMPL_QUBESD_SOCKET!, { method: 'admin.vm.Remove', dest: name });
}

/**
 * Puts the simulator at `latency`: the disposables' start and resume costs, and, for a preloaded
 * latency, `preload-dispvm-max` on default-dvm with as many started and paused as it asks for
 * (their cold start is paid here, before the clock starts, as on a machine that has been up).
 */
async function setLatency(scenario: Scenario, latency: Latency): Promise<void> {
  const socket = scenario.env.TMPL_QUBESD_SOCKET!;
  const { disposables } = scenario.sim.admin;
  disposables.timing = { startMs: latency.startMs, resumeMs: latency.resumeMs, cleanupMs: latency.cleanupMs };
  const feature = async (arg: string): Promise<string | undefined> => {
    const reply = await call(socket, { method: 'admin.vm.feature.Get', dest: 'default-dvm', arg });
    return reply.kind === 'ok' ? reply.content : undefined;
  };
  if (latency.preload === 0) {
    if ((await feature('preload-dispvm-max')) !== undefined)
      await ok(socket, { method: 'admin.vm.feature.Remove', dest: 'default-dvm', arg: 'preload-dispvm-max' });
    return;
  }
  if ((await feature('preload-dispvm-max')) !== String(latency.preload))
    await ok(socket, {
      method: 'admin.vm.feature.Set',
      dest: 'default-dvm',
      arg: 'preload-dispvm-max',
      payload: String(latency.preload),
    });
  const deadline = Date.now() + 120_000 + 4 * latency.startMs;
  for (;;) {
    const names = (await feature('preload-dispvm'))?.split(' ').filter(Boolean) ?? [];
    const states = await ok(socket, { method: 'admin.vm.List' });
    const paused = names.filter((n) => new RegExp(`^${n} class=DispVM state=Paused`, 'm').test(states));
    if (paused.length >= latency.preload) return;
    if (Date.now() > deadline) throw new Error('the preloaded disposables did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The first import, from the orchestrator's log ('importing root volume': the image member was
 * found and the import stream opens), and how long after the disposable that fed it was ready
 * (started, or handed out when preloaded; from the simulator's record).
 */
function firstImport(
  stderr: string,
  events: readonly DisposableEvent[],
  startedAt: number,
): [number, number] {
  let first = Infinity;
  for (const line of stderr.split('\n')) {
    if (!line.includes('"importing root volume"')) continue;
    const time = (JSON.parse(line) as { time?: number }).time;
    if (time !== undefined) first = Math.min(first, time);
  }
  if (first === Infinity) return [NaN, NaN];
  const ready = events
    .filter((e) => e.at >= startedAt && e.at <= first && (e.event === 'started' || e.event === 'used'))
    .map((e) => e.at);
  return [first - startedAt, ready.length > 0 ? first - Math.max(...ready) : NaN];
}

/** One `tmpl install --skip-start NAMES...` from dom0, measured; checks every imported volume. */
async function measureTmpl(
  scenario: Scenario,
  work: string,
  installs: readonly { name: string; imageSha: string }[],
  options: Options,
): Promise<TmplFigures> {
  const probeDir = path.join(work, 'probes');
  await rm(probeDir, { recursive: true, force: true });
  await mkdir(probeDir);
  const probeFile = path.join(work, 'probe.cjs');
  await writeFile(probeFile, PROBE_SOURCE);
  const env = {
    ...process.env,
    ...scenario.env,
    TMPL_STATE_DIR: path.join(work, 'tmpl-state'),
    TMPL_LOG_LEVEL: 'info',
    TMPL_BENCH_PROBE_DIR: probeDir,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${probeFile}`.trim(),
    ...(options.cpuProf ? { TMPL_BENCH_CPU_PROF_DIR: path.join(work, 'cpu-profiles') } : {}),
  };
  const events = scenario.sim.admin.disposables.events;
  const eventsBefore = events.length;
  const workers = sampleWorkers();
  const cpuBefore = await selfCpu();
  const startedAt = Date.now();
  const run = await runTimed(
    [
      process.execPath,
      path.join(REPO_ROOT, 'bin/tmpl.mjs'),
      'install',
      '--skip-start',
      ...installs.map((i) => i.name),
      ...scenario.args,
    ],
    env,
  );
  if (run.exitCode !== 0) throw new Error(`tmpl install failed (exit ${run.exitCode}):\n${run.stderr}`);
  const cpuAfter = await selfCpu();
  const workerStats = workers.stop();
  const stages = stagesOf(run.stderr, startedAt);
  const probes = await readProbes(probeDir);
  const orchestrator = probes.find((p) => p.pid === run.pid);
  const importers = probes.filter((p) => p.argv.some((a) => a.endsWith('admin.vm.volume.ImportWithSize')));
  for (const { name, imageSha } of installs) {
    const info = await ok(scenario.env.TMPL_QUBESD_SOCKET!, {
      method: 'admin.vm.volume.Info',
      dest: name,
      arg: 'root',
    });
    const volumeFile = /^path=(.*)$/m.exec(info)?.[1];
    if (!volumeFile || (await denseSha256(volumeFile)) !== imageSha)
      throw new Error(`the imported volume of ${name} differs from the forged image`);
  }
  const used = events.slice(eventsBefore);
  const [firstImportMs, importAfterReadyMs] = firstImport(run.stderr, used, startedAt);
  const childrenOfBench = cpuAfter.children - cpuBefore.children;
  const orchestratorTree = orchestrator ? orchestrator.cpuMs + orchestrator.childrenCpuMs : 0;
  return {
    wallMs: run.wallMs,
    stages,
    firstImportMs,
    importAfterReadyMs,
    disposables: new Set(
      used.filter((e) => e.event === 'requested' || (e.event === 'created' && !e.preload)).map((e) => e.vm),
    ).size,
    orchestratorHwmKiB: orchestrator?.hwmKiB ?? NaN,
    orchestratorCpuMs: orchestrator?.cpuMs ?? NaN,
    childrenCpuMs: orchestrator?.childrenCpuMs ?? NaN,
    importCpuMs: importers.reduce((sum, p) => sum + p.cpuMs, 0),
    workerCpuMs: workerStats.cpuMs,
    workerHwmKiB: workerStats.hwmKiB,
    reapedWorkerCpuMs: childrenOfBench - orchestratorTree,
    simCpuMs: cpuAfter.own - cpuBefore.own,
    orchestratorWriteBytes: orchestrator?.ownWriteBytes ?? NaN,
  };
}

/**
 * The incumbent's dom0 steps on one package already in dom0: rpmkeys --checksig, then the staged
 * pipeline and (or only, with `streamingOnly`) the streaming one, each into a fresh volume file.
 */
async function measureIncumbent(
  work: string,
  scenario: Scenario,
  pkg: { path: string; size: number; template: string; sizeBytes: number; imageSha: string },
  streamingOnly: boolean,
): Promise<IncumbentFigures> {
  const db = path.join(work, 'rpmdb');
  await rm(db, { recursive: true, force: true });
  await mkdir(db);
  await shell(`rpmkeys --dbpath=${q(db)} --import ${q(scenario.keyPath)}`);
  const figures: IncumbentFigures = {
    checksig: await shell(
      `LC_ALL=C rpmkeys --dbpath=${q(db)} --define='_pkgverify_level all' --define='_pkgverify_flags 0x0' --checksig - < ${q(pkg.path)} | grep -qx -- '-: digests signatures OK'`,
    ),
    extract: NaN,
    import: NaN,
    extractSmall: NaN,
    streamImport: NaN,
    stagedBytes: NaN,
  };
  const dir = `./var/lib/qubes/vm-templates/${pkg.template}/`;
  if (!streamingOnly) {
    const stage = path.join(work, 'incumbent-staged');
    await mkdir(stage);
    const volume1 = path.join(work, 'incumbent-staged-volume.img');
    await shell(`truncate -s ${pkg.sizeBytes} ${q(volume1)}`);
    figures.extract = await shell(`rpm2archive - < ${q(pkg.path)} | tar xz -C ${q(stage)} ${q(dir)}`);
    figures.stagedBytes = pkg.size + (await dirBytes(stage));
    figures.import = await shell(
      `cat ${q(path.join(stage, dir))}root.img.part.* | tar xSO | dd of=${q(volume1)} ${IMPORT_DD.join(' ')} status=none`,
    );
    if ((await denseSha256(volume1)) !== pkg.imageSha) throw new Error('incumbent (staged) volume differs');
    await rm(stage, { recursive: true, force: true });
    await rm(volume1, { force: true });
  }
  const small = path.join(work, 'incumbent-streaming');
  await rm(small, { recursive: true, force: true });
  await mkdir(small);
  const volume2 = path.join(work, 'incumbent-streaming-volume.img');
  await shell(`truncate -s ${pkg.sizeBytes} ${q(volume2)}`);
  figures.extractSmall = await shell(
    `rpm2archive - < ${q(pkg.path)} | tar xz -C ${q(small)} ${q(dir)} '--exclude=root.img.part.?[!0]' '--exclude=root.img.part.[!0]0'`,
  );
  figures.streamImport = await shell(
    `rpm2archive - < ${q(pkg.path)} | tar xzSOf - --wildcards '*/root.img.part.*' | tar xSOf - | dd of=${q(volume2)} ${IMPORT_DD.join(' ')} status=none`,
  );
  if ((await denseSha256(volume2)) !== pkg.imageSha) throw new Error('incumbent (streaming) volume differs');
  await rm(volume2, { force: true });
  await rm(small, { recursive: true, force: true });
  return figures;
}

interface Forged {
  name: string;
  imageSha: string;
  path: string;
  size: number;
  sizeBytes: number;
}

/** Forges every package of the run into one signed repository (the slow part of setting up). */
async function forgeWorld(
  work: string,
  options: Options,
  say: (text: string) => void,
): Promise<{ scenario: Scenario; bySize: Map<ImageSize, Forged>; trio: Forged[] }> {
  const templates: ScenarioTemplate[] = [];
  const shas = new Map<string, { sha: string; sizeBytes: number }>();
  const bySizeNames = new Map<ImageSize, string>();
  for (const size of options.sizes) {
    const imagePath = path.join(work, `root-${size.sizeMiB}.img`);
    const t = Date.now();
    const sha = await makeImage(imagePath, size.sizeMiB * MiB, size.dataMiB * MiB);
    say(`image: ${size.sizeMiB} MiB sparse, ${size.dataMiB} MiB data (${fmt(Date.now() - t)})`);
    const names = [`bench-${size.sizeMiB}`];
    if (size === options.sizes[0] && options.trio) names.push('bench-trio-a', 'bench-trio-b', 'bench-trio-c');
    for (const name of names) {
      templates.push({
        name,
        version: '4.3.0',
        release: '202611261200',
        image: { path: imagePath },
        compressor: 'zstd',
        partSize: options.partMiB * MiB,
        templateConf: 'gui=1\nqrexec=1\n',
      });
      shas.set(name, { sha, sizeBytes: size.sizeMiB * MiB });
    }
    bySizeNames.set(size, names[0]!);
  }
  const t = Date.now();
  const scenario = await createScenario({ dir: path.join(work, 'world'), templates });
  say(`${templates.length} package(s) forged and signed in ${fmt(Date.now() - t)}`);
  await rm(path.join(work, 'world/forge-tmp'), { recursive: true, force: true });
  for (const size of options.sizes) await rm(path.join(work, `root-${size.sizeMiB}.img`), { force: true });
  const forged = new Map<string, Forged>();
  for (const pkg of scenario.packages) {
    const name = templates.find((tpl) => pkg.fileName.startsWith(`qubes-template-${tpl.name}-`))!.name;
    const { sha, sizeBytes } = shas.get(name)!;
    forged.set(name, { name, imageSha: sha, path: pkg.path, size: (await stat(pkg.path)).size, sizeBytes });
  }
  const bySize = new Map([...bySizeNames].map(([size, name]) => [size, forged.get(name)!]));
  const trio = ['bench-trio-a', 'bench-trio-b', 'bench-trio-c'].flatMap((n) => forged.get(n) ?? []);
  return { scenario, bySize, trio };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const work = await mkdtemp(path.join(os.tmpdir(), 'tmpl-bench-install-'));
  let scenario: Scenario | undefined;
  const say = (text: string): void => void process.stdout.write(`${text}\n`);
  try {
    say(`work directory ${work}`);
    const world = await forgeWorld(work, options, say);
    scenario = world.scenario;
    const report: string[] = [];
    for (const size of options.sizes) {
      const pkg = world.bySize.get(size)!;
      const incumbent = options.skipIncumbent
        ? undefined
        : await measureIncumbent(work, scenario, { ...pkg, template: pkg.name }, options.quick);
      const rows: [Latency, TmplFigures][] = [];
      for (const latency of options.latencies) {
        await setLatency(scenario, latency);
        rows.push([latency, await measureTmpl(scenario, work, [pkg], options)]);
        await removeTemplate(scenario, pkg.name);
        say(`  measured ${size.sizeMiB} MiB at ${latency.label}`);
      }
      report.push(...sizeReport(size, pkg.size, incumbent, rows));
    }
    if (world.trio.length === 3) {
      const size = options.sizes[0]!;
      let incumbentMs = NaN;
      if (!options.skipIncumbent) {
        incumbentMs = 0;
        for (const pkg of world.trio) {
          const one = await measureIncumbent(work, scenario, { ...pkg, template: pkg.name }, true);
          incumbentMs += one.checksig + one.extractSmall + one.streamImport;
        }
      }
      const rows: [Latency, TmplFigures][] = [];
      for (const latency of options.latencies) {
        await setLatency(scenario, latency);
        rows.push([latency, await measureTmpl(scenario, work, world.trio, options)]);
        for (const pkg of world.trio) await removeTemplate(scenario, pkg.name);
        say(`  measured three templates at ${latency.label}`);
      }
      report.push(...trioReport(size, incumbentMs, rows));
    }
    say('');
    for (const line of report) say(line);
    say(
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs`,
    );
  } finally {
    await scenario?.close();
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:install: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
