/**
 * Block coverage of the target's own source files from V8's precise binary coverage (the
 * inspector's Profiler.takePreciseCoverage, the data behind NODE_V8_COVERAGE and c8). Taking
 * coverage resets V8's flags, so each take reports what ran since the previous one.
 *
 * V8 reports nested ranges and drops a nested range whose flag equals its parent's, so the
 * ranges of one take are not comparable with another's. A block here is therefore keyed by a
 * source offset where some take ever started or ended a range (a block boundary); it ran when the
 * innermost range around that offset ran. The figure is how many such blocks of the target's
 * files have run, out of how many V8 has shown us so far.
 */
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';

/**
 * One inspector session per thread, started once and never stopped: V8 adds block counters to a
 * function when it compiles it under precise coverage, and a function compiled while coverage was
 * off (or before it was stopped and started again) reports only whether it ran, not its blocks.
 * Start it before the targets' code first runs.
 */
let session: Session | undefined;

export async function startCoverage(): Promise<Session> {
  if (session === undefined) {
    const started = new Session();
    started.connect();
    await started.post('Profiler.enable');
    await started.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    session = started;
  }
  return session;
}

interface CoverageRange {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}

export class BlockCoverage {
  #session: Session | undefined;
  readonly #urls: ReadonlySet<string>;
  /** Every block seen so far, covered or not, as "url:offset". */
  readonly #known = new Set<string>();
  readonly #boundaries = new Map<string, Set<number>>();
  readonly #functions = new Map<string, Map<string, CoverageRange>>();
  readonly #covered = new Set<string>();

  /** `files`: absolute paths of the sources that count. */
  constructor(files: readonly string[]) {
    this.#urls = new Set(files.map((f) => pathToFileURL(f).href));
  }

  /** Joins the thread's coverage session and forgets what ran before. */
  async start(): Promise<void> {
    this.#session = await startCoverage();
    await this.#session.post('Profiler.takePreciseCoverage');
  }

  /** The blocks that ran since the last take. */
  async take(): Promise<Set<string>> {
    if (this.#session === undefined) throw new Error('BlockCoverage.take before start');
    const { result } = await this.#session.post('Profiler.takePreciseCoverage');
    const ran = new Set<string>();
    for (const script of result) {
      if (!this.#urls.has(script.url)) continue;
      let boundaries = this.#boundaries.get(script.url);
      if (boundaries === undefined) this.#boundaries.set(script.url, (boundaries = new Set()));
      // V8 leaves out the functions that did not run since the last take: a function seen once
      // counts as not run (count 0) in every take that leaves it out.
      let functions = this.#functions.get(script.url);
      if (functions === undefined)
        this.#functions.set(script.url, (functions = new Map<string, CoverageRange>()));
      const reported = new Set<string>();
      for (const fn of script.functions) {
        const whole = fn.ranges[0];
        if (whole === undefined) continue;
        const key = `${whole.startOffset}:${whole.endOffset}`;
        reported.add(key);
        functions.set(key, { startOffset: whole.startOffset, endOffset: whole.endOffset, count: 0 });
      }
      const ranges = script.functions.flatMap((fn) => fn.ranges);
      for (const [key, range] of functions) if (!reported.has(key)) ranges.push(range);
      for (const range of ranges) {
        boundaries.add(range.startOffset);
        boundaries.add(range.endOffset);
      }
      for (const at of boundaries) {
        let innermost: CoverageRange | undefined;
        for (const range of ranges) {
          if (range.startOffset <= at && at < range.endOffset) {
            if (
              innermost === undefined ||
              range.endOffset - range.startOffset < innermost.endOffset - innermost.startOffset
            )
              innermost = range;
          }
        }
        const key = `${script.url}:${at}`;
        this.#known.add(key);
        if (innermost !== undefined && innermost.count > 0) ran.add(key);
      }
    }
    return ran;
  }

  /** Adds `ran` to the covered set; returns how many blocks were new. */
  merge(ran: ReadonlySet<string>): number {
    let added = 0;
    for (const key of ran) {
      if (!this.#covered.has(key)) {
        this.#covered.add(key);
        added++;
      }
    }
    return added;
  }

  /** True if `ran` holds a block not yet covered. */
  hasNew(ran: ReadonlySet<string>): boolean {
    for (const key of ran) if (!this.#covered.has(key)) return true;
    return false;
  }

  get covered(): number {
    return this.#covered.size;
  }

  /** Blocks V8 has reported in the target's files (it reports a function's blocks once it has compiled it). */
  get known(): number {
    return this.#known.size;
  }
}
