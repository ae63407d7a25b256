/**
 * `npm run bench:install`: one template install, end to end on the simulator, next to the
 * incumbent's dom0 pipeline on the same package.
 *
 * The package is forged as the Qubes builder makes one: a 2 GiB sparse root.img holding ~600 MiB
 * of semi-compressible data (random pages, text-like pages, table-like pages), archived with
 * GNU sparse tar, split into parts, zstd payload, signed, in a signed repository on 127.0.0.1.
 *
 * tmpl: `tmpl install --skip-start` from dom0; the worker runs in a disposable (bubblewrap),
 * downloads over HTTP, verifies, decompresses and streams frames; the orchestrator verifies and
 * imports through admin.vm.volume.ImportWithSize. Measured on the orchestrator process alone
 * (a --require probe records /proc/self/status VmHWM and /proc/self/io at exit): wall time, peak
 * RSS, bytes it wrote to disk. The import script's writes (the volume) are reported apart.
 *
 * The incumbent (qvm-template + qvm-template-postprocess in dom0), with the package already in
 * dom0 (its download through the UpdateVM is NOT counted, which favours it):
 *   1. rpmkeys --checksig with _pkgverify_level all;
 *   2. staged: `rpm2archive - | tar xz` of the template directory (every part on dom0's disk),
 *      then `cat root.img.part.* | tar xSO` into the volume with the import script's dd;
 *   3. streaming (qvm-template-postprocess of R4.2+): small files and part 00 extracted, then
 *      `rpm2archive - | tar xzSO parts | tar xSO` into the volume with the same dd.
 *
 * Options: --data-mib N (600), --size-mib N (2048), --part-mib N (1024, the builder's),
 * --keep (leave the work directory), --skip-incumbent, --cpu-prof (V8 CPU profiles of the
 * orchestrator and its Node children in the work directory's cpu-profiles/; implies nothing else).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, createCipheriv } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createScenario, type Scenario } from '../sim/scenario.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const PAGE = 4096;
const EXTENT_BYTES = 8 * MiB;
const TEMPLATE = 'bench-fedora';
/** dd flags of Qubes' admin.vm.volume.Import script (qubes-core-admin, qubes-rpc/admin.vm.volume.Import). */
const IMPORT_DD = ['bs=128K', 'iflag=fullblock', 'conv=sparse,notrunc,fdatasync'];

interface Options {
  dataMiB: number;
  sizeMiB: number;
  partMiB: number;
  keep: boolean;
  skipIncumbent: boolean;
  cpuProf: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const num = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} needs a positive integer`);
    return n;
  };
  const options = {
    dataMiB: num('--data-mib', 600),
    sizeMiB: num('--size-mib', 2048),
    partMiB: num('--part-mib', 1024),
    keep: argv.includes('--keep'),
    skipIncumbent: argv.includes('--skip-incumbent'),
    cpuProf: argv.includes('--cpu-prof'),
  };
  if (options.dataMiB * 2 > options.sizeMiB) throw new Error('--size-mib must be at least twice --data-mib');
  return options;
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
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const work = await mkdtemp(path.join(os.tmpdir(), 'tmpl-bench-install-'));
  let scenario: Scenario | undefined;
  try {
    const say = (text: string): void => void process.stdout.write(`${text}\n`);
    say(`work directory ${work}`);
    const imagePath = path.join(work, 'root.img');
    let t = Date.now();
    const imageSha = await makeImage(imagePath, options.sizeMiB * MiB, options.dataMiB * MiB);
    say(`image: ${options.sizeMiB} MiB sparse, ${options.dataMiB} MiB data (${fmt(Date.now() - t)})`);

    t = Date.now();
    scenario = await createScenario({
      dir: path.join(work, 'world'),
      templates: [
        {
          name: TEMPLATE,
          version: '4.3.0',
          release: '202611261200',
          image: { path: imagePath },
          compressor: 'zstd',
          partSize: options.partMiB * MiB,
          templateConf: 'gui=1\nqrexec=1\n',
        },
      ],
    });
    const pkg = scenario.packages[0]!;
    const pkgSize = (await stat(pkg.path)).size;
    say(
      `package: ${pkg.fileName}, ${mib(pkgSize)} (tar ${mib(pkg.tarSize)} in ${pkg.parts.length} part(s)), forged in ${fmt(Date.now() - t)}`,
    );
    await rm(imagePath.replace(/root\.img$/, 'world/forge-tmp'), { recursive: true, force: true });

    // tmpl, end to end
    const probeDir = path.join(work, 'probes');
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
    const workers = sampleWorkers();
    const cpuBefore = await selfCpu();
    const startedAt = Date.now();
    const run = await runTimed(
      [
        process.execPath,
        path.join(REPO_ROOT, 'bin/tmpl.mjs'),
        'install',
        '--skip-start',
        TEMPLATE,
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
    const importer = probes.find((p) => p.argv.some((a) => a.endsWith('admin.vm.volume.ImportWithSize')));
    const volumeFile = /path=(.*)/.exec(
      await promisify(execFile)('python3', [
        '-c',
        'import socket,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);s.sendall(sys.argv[2].encode()+b"\\0");s.shutdown(socket.SHUT_WR)\nd=b""\nwhile True:\n c=s.recv(65536)\n if not c: break\n d+=c\nsys.stdout.write(d[2:].decode())',
        scenario.env.TMPL_QUBESD_SOCKET!,
        `admin.vm.volume.Info+root dom0 name ${TEMPLATE}`,
      ]).then((r) => r.stdout),
    )?.[1];
    const importedSha = volumeFile ? await denseSha256(volumeFile) : 'missing';
    if (importedSha !== imageSha) throw new Error('the imported volume differs from the forged image');

    // the incumbent, on the same package
    const incumbent: Record<string, number> = {};
    let stagedBytes = 0;
    if (!options.skipIncumbent) {
      const db = path.join(work, 'rpmdb');
      await mkdir(db);
      await shell(`rpmkeys --dbpath=${q(db)} --import ${q(scenario.keyPath)}`);
      const checksig = `LC_ALL=C rpmkeys --dbpath=${q(db)} --define='_pkgverify_level all' --define='_pkgverify_flags 0x0' --checksig - < ${q(pkg.path)} | grep -qx -- '-: digests signatures OK'`;
      incumbent.checksig = await shell(checksig);
      const sizeBytes = options.sizeMiB * MiB;
      const dir = `./var/lib/qubes/vm-templates/${TEMPLATE}/`;

      const stage = path.join(work, 'incumbent-staged');
      await mkdir(stage);
      const volume1 = path.join(work, 'incumbent-staged-volume.img');
      await shell(`truncate -s ${sizeBytes} ${q(volume1)}`);
      incumbent.extract = await shell(`rpm2archive - < ${q(pkg.path)} | tar xz -C ${q(stage)} ${q(dir)}`);
      stagedBytes = pkgSize + (await dirBytes(stage));
      incumbent.import = await shell(
        `cat ${q(path.join(stage, dir))}root.img.part.* | tar xSO | dd of=${q(volume1)} ${IMPORT_DD.join(' ')} status=none`,
      );
      if ((await denseSha256(volume1)) !== imageSha) throw new Error('incumbent (staged) volume differs');
      await rm(stage, { recursive: true, force: true });
      await rm(volume1, { force: true });

      const small = path.join(work, 'incumbent-streaming');
      await mkdir(small);
      const volume2 = path.join(work, 'incumbent-streaming-volume.img');
      await shell(`truncate -s ${sizeBytes} ${q(volume2)}`);
      incumbent.extractSmall = await shell(
        `rpm2archive - < ${q(pkg.path)} | tar xz -C ${q(small)} ${q(dir)} '--exclude=root.img.part.?[!0]' '--exclude=root.img.part.[!0]0'`,
      );
      incumbent.streamImport = await shell(
        `rpm2archive - < ${q(pkg.path)} | tar xzSOf - --wildcards '*/root.img.part.*' | tar xSOf - | dd of=${q(volume2)} ${IMPORT_DD.join(' ')} status=none`,
      );
      if ((await denseSha256(volume2)) !== imageSha) throw new Error('incumbent (streaming) volume differs');
      await rm(volume2, { force: true });
    }

    const dataMiB = options.dataMiB;
    const rate = (ms: number): string => `${(dataMiB / (ms / 1000)).toFixed(1)} MiB/s`;
    say('');
    say(`== results (image data ${dataMiB} MiB, image ${options.sizeMiB} MiB, package ${mib(pkgSize)}) ==`);
    say(
      `tmpl install (dom0, worker in a disposable, download included): ${fmt(run.wallMs)}, ${rate(run.wallMs)}`,
    );
    for (const [stage, ms] of Object.entries(stages)) say(`    ${stage.padEnd(26)} ${fmt(ms)}`);
    if (orchestrator) {
      say(`  orchestrator peak RSS (VmHWM): ${mib(orchestrator.hwmKiB * 1024)}`);
      say(
        `  orchestrator bytes written to disk (its threads' write_bytes): ${orchestrator.ownWriteBytes} B` +
          ` (with its reaped children, the import script: ${mib(orchestrator.treeWriteBytes)})`,
      );
      // CPU, from the kernel's accounting: the orchestrator's own; its children (qrexec-client,
      // import script, flock); the bench's other children (the workers under bubblewrap); the
      // bench process itself (the simulated qubesd and qrexec daemons, the repository server).
      const childrenOfBench = cpuAfter.children - cpuBefore.children;
      const orchestratorTree = orchestrator.cpuMs + orchestrator.childrenCpuMs;
      say(`  CPU: orchestrator ${fmt(orchestrator.cpuMs)}`);
      say(`       its children (qrexec-client, import script, flock) ${fmt(orchestrator.childrenCpuMs)}`);
      if (importer) say(`         of which the import script ${fmt(importer.cpuMs)}`);
      say(
        `       workers in disposables (sampled every ${WORKER_SAMPLE_MS} ms): ${fmt(workerStats.cpuMs)}, peak RSS ${mib(workerStats.hwmKiB * 1024)}` +
          ` (reaped into the bench's accounting: ${fmt(childrenOfBench - orchestratorTree)})`,
      );
      say(`       simulated qubesd, qrexec daemon, repository server ${fmt(cpuAfter.own - cpuBefore.own)}`);
    } else say('  orchestrator probe missing');
    if (!options.skipIncumbent) {
      const staged = incumbent.checksig! + incumbent.extract! + incumbent.import!;
      const streaming = incumbent.checksig! + incumbent.extractSmall! + incumbent.streamImport!;
      say('incumbent, package already in dom0 (its download not counted):');
      say(`  rpmkeys --checksig:                       ${fmt(incumbent.checksig!)}`);
      say(`  staged:    rpm2archive | tar xz (parts):  ${fmt(incumbent.extract!)}`);
      say(`             cat parts | tar xSO | dd:      ${fmt(incumbent.import!)}`);
      say(
        `             total ${fmt(staged)}, ${rate(staged)}; staged on dom0's disk: ${mib(stagedBytes)} (rpm + parts)`,
      );
      say(`  streaming: rpm2archive | tar xz (small):  ${fmt(incumbent.extractSmall!)}`);
      say(`             rpm2archive | tar | tar | dd:  ${fmt(incumbent.streamImport!)}`);
      say(
        `             total ${fmt(streaming)}, ${rate(streaming)}; staged on dom0's disk: ${mib(pkgSize)} (rpm)`,
      );
      say(
        `speed-up of tmpl: ${(staged / run.wallMs).toFixed(2)}x vs staged, ${(streaming / run.wallMs).toFixed(2)}x vs streaming`,
      );
    }
    say(
      `load average during the run: ${os
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
