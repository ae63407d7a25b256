/**
 * The requests of one worker session (one disposable, one tmpl.Worker call): the rule both sides
 * apply, the worker to refuse, the orchestrator to never send, a sequence outside it.
 *
 * A session is a sequence of exchanges. Each exchange is the one-request protocol unchanged:
 * REQUEST, then HELLO ... END or ERROR (protocol/frames.ts, FrameSequence). The worker reads the
 * next REQUEST only after its END; ERROR, or the end of its input, ends the session. The allowed
 * sequences, at most MAX_REQUESTS_PER_SESSION requests:
 *
 *   query? (fetch | download | header)?     and     unpack alone     and     hello alone
 *
 * - A query comes first: it lists the repositories, and an install's fetch of the first package
 *   follows in the same disposable (one disposable per install instead of two).
 * - At most one package per session: a package's payload is decompressed and parsed in the
 *   worker, and whatever it did there must not reach another package, which gets its own
 *   disposable.
 * - unpack is alone: its package data runs to the end of the input.
 * - hello is alone: it only proves that a worker answers (tmpl setup's round trip).
 *
 * Nothing the worker keeps between requests (the repository metadata the query loaded) is
 * trusted: the orchestrator checks each reply on its own, as it checks a fresh worker's.
 */
import { ParseError } from './errors.ts';
import type { WorkerOp } from './frames.ts';
import { MAX_REQUESTS_PER_SESSION } from './limits.ts';

export { MAX_REQUESTS_PER_SESSION };

/** Ops that name one package. */
const PACKAGE_OPS: ReadonlySet<WorkerOp> = new Set<WorkerOp>(['fetch', 'download', 'header', 'unpack']);

export class RequestSequence {
  readonly #ops: WorkerOp[] = [];

  /** The ops accepted so far. */
  get ops(): readonly WorkerOp[] {
    return this.#ops;
  }

  /** True when no further request may follow (a package op was accepted, or the maximum reached). */
  get complete(): boolean {
    return (
      this.#ops.length >= MAX_REQUESTS_PER_SESSION ||
      this.#ops.some((op) => PACKAGE_OPS.has(op) || op === 'hello')
    );
  }

  /** Whether `op` may come next; the reason it may not, else null. */
  refusal(op: WorkerOp): string | null {
    const n = this.#ops.length;
    if (n >= MAX_REQUESTS_PER_SESSION) {
      return `a session answers at most ${MAX_REQUESTS_PER_SESSION} requests`;
    }
    const last = this.#ops.at(-1);
    if (last === 'hello') return 'no request may follow hello (hello is alone in its session)';
    if (this.complete) return `no request may follow ${last} (one package per session)`;
    if (n > 0 && op === 'query') return 'query comes first in a session';
    if (n > 0 && op === 'unpack') return 'unpack is the only request of its session';
    if (n > 0 && op === 'hello') return 'hello is the only request of its session';
    return null;
  }

  /** Accepts the next request's op or throws ParseError 'message.sequence'. */
  accept(op: WorkerOp): void {
    const refused = this.refusal(op);
    if (refused !== null) {
      throw new ParseError('message.sequence', `request ${this.#ops.length + 1} (${op}): ${refused}`, 0);
    }
    this.#ops.push(op);
  }
}
