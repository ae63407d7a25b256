/**
 * The figures bench/install.ts measures and how it prints them: per image size, tmpl at each
 * disposable start latency beside the incumbent's dom0 steps on the same package; then three
 * templates in one command beside three incumbent installs in a row.
 */

const MiB = 1024 * 1024;

export interface ImageSize {
  readonly sizeMiB: number;
  readonly dataMiB: number;
}

/** What a disposable costs in a run (sim/admin/disposables.ts), and how many are preloaded. */
export interface Latency {
  readonly label: string;
  readonly startMs: number;
  readonly resumeMs: number;
  readonly cleanupMs: number;
  /** preload-dispvm-max on default-dvm (0: none). */
  readonly preload: number;
}

/**
 * 0 s: the simulator as it was. 1 s: Qubes 4.3's preloaded disposables (qubes-issues#1512
 * measured ~0.9 s from request to service, ~2.9 s with the clean-up), two kept ready, each cold
 * start (6 s) paid in the background. 6 s: every disposable started cold (qubes-issues#5822
 * reports 7-20 s on 2020 hardware).
 */
export function defaultLatencies(cleanupMs: number): Latency[] {
  return [
    { label: '0 s', startMs: 0, resumeMs: 0, cleanupMs: 0, preload: 0 },
    { label: '1 s (preloaded)', startMs: 6000, resumeMs: 1000, cleanupMs, preload: 2 },
    { label: '6 s (cold)', startMs: 6000, resumeMs: 0, cleanupMs, preload: 0 },
  ];
}

export interface TmplFigures {
  wallMs: number;
  stages: Record<string, number>;
  /** From the start of the command to the first 'importing root volume'. */
  firstImportMs: number;
  /** From the fetching disposable being ready (started, or handed out) to that first import. */
  importAfterReadyMs: number;
  disposables: number;
  orchestratorHwmKiB: number;
  orchestratorCpuMs: number;
  childrenCpuMs: number;
  importCpuMs: number;
  workerCpuMs: number;
  workerHwmKiB: number;
  reapedWorkerCpuMs: number;
  simCpuMs: number;
  orchestratorWriteBytes: number;
}

export interface IncumbentFigures {
  checksig: number;
  extract: number;
  import: number;
  extractSmall: number;
  streamImport: number;
  /** The rpm and the extracted parts on dom0's disk. */
  stagedBytes: number;
}

const s = (ms: number): string => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);
const mib = (kib: number): string => (Number.isNaN(kib) ? '-' : `${((kib * 1024) / MiB).toFixed(0)} MiB`);
const ratio = (incumbent: number, ours: number): string =>
  Number.isNaN(incumbent) ? '-' : `${(incumbent / ours).toFixed(2)}x`;

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

function tmplRows(
  rows: readonly [Latency, TmplFigures][],
  versus: readonly [string, number][],
  withStages = true,
): string[] {
  const header = [
    'latency',
    'tmpl',
    ...versus.map(([name]) => `vs ${name}`),
    'first import',
    'after ready',
    'disposables',
    'orch RSS',
    'worker RSS',
    'CPU orch',
    'children',
    '(import)',
    'workers',
    'sim',
  ];
  const stages = rows.map(
    ([latency, f]) =>
      `${latency.label}: ` +
      Object.entries(f.stages)
        .map(([stage, ms]) => `${stage} ${s(ms)}`)
        .join(', '),
  );
  return [
    ...table([
      header,
      ...rows.map(([latency, f]) => [
        latency.label,
        s(f.wallMs),
        ...versus.map(([, ms]) => ratio(ms, f.wallMs)),
        s(f.firstImportMs),
        s(f.importAfterReadyMs),
        String(f.disposables),
        mib(f.orchestratorHwmKiB),
        mib(f.workerHwmKiB),
        s(f.orchestratorCpuMs),
        s(f.childrenCpuMs),
        s(f.importCpuMs),
        s(f.workerCpuMs),
        s(f.simCpuMs),
      ]),
    ]),
    ...(withStages ? ["stages (from the orchestrator's log):", ...stages.map((line) => `  ${line}`)] : []),
  ];
}

export function sizeReport(
  size: ImageSize,
  packageBytes: number,
  incumbent: IncumbentFigures | undefined,
  rows: readonly [Latency, TmplFigures][],
): string[] {
  const out = [
    `== ${size.sizeMiB} MiB sparse image, ${size.dataMiB} MiB data, package ${(packageBytes / MiB).toFixed(1)} MiB (zstd) ==`,
  ];
  const versus: [string, number][] = [];
  if (incumbent) {
    const staged = incumbent.checksig + incumbent.extract + incumbent.import;
    const streaming = incumbent.checksig + incumbent.extractSmall + incumbent.streamImport;
    out.push(
      `incumbent in dom0, package already there (its download through the UpdateVM not counted):`,
      `  rpmkeys --checksig ${s(incumbent.checksig)}`,
      `  staged:    rpm2archive | tar xz ${s(incumbent.extract)}, cat parts | tar xSO | dd ${s(incumbent.import)}: ${s(staged)}` +
        (Number.isNaN(incumbent.stagedBytes)
          ? ''
          : ` (${(incumbent.stagedBytes / MiB).toFixed(0)} MiB on dom0's disk)`),
      `  streaming: rpm2archive | tar xz (small) ${s(incumbent.extractSmall)}, rpm2archive | tar | tar | dd ${s(incumbent.streamImport)}: ${s(streaming)}`,
    );
    if (!Number.isNaN(staged)) versus.push(['staged', staged]);
    versus.push(['streaming', streaming]);
  }
  out.push(
    'tmpl install --skip-start from dom0, worker in a disposable, download included (first import:',
    "from the start to the import stream opening; after ready: from the fetching disposable's start or hand-out):",
    ...tmplRows(rows, versus).map((l) => `  ${l}`),
    '',
  );
  return out;
}

export function trioReport(
  size: ImageSize,
  incumbentMs: number,
  rows: readonly [Latency, TmplFigures][],
): string[] {
  return [
    `== three templates (${size.sizeMiB} MiB / ${size.dataMiB} MiB each): one tmpl command vs three incumbent installs in a row ==`,
    `incumbent, streaming, three in a row: ${s(incumbentMs)}`,
    ...tmplRows(rows, Number.isNaN(incumbentMs) ? [] : [['3x streaming', incumbentMs]], false).map(
      (l) => `  ${l}`,
    ),
    '',
  ];
}
