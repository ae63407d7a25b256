/** The orchestrator's side of the worker's pipes: sending the request, reading its ERROR frame. */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { encodeDataFrames, type Frame } from '../../protocol/frames.ts';
import { decodeJsonFrame, encodeRequest, type WorkerRequest } from '../../protocol/messages.ts';
import { quotedLine } from '../../protocol/display-text.ts';
import { OrchestratorError } from '../errors.ts';

/**
 * Writes the REQUEST frame (then, for unpack, `file` as PACKAGE_DATA frames) and closes stdin,
 * unless another request of the session follows (`keepOpen`).
 */
export async function sendRequest(
  stdin: NodeJS.WritableStream,
  request: WorkerRequest,
  file?: string,
  options: { keepOpen?: boolean } = {},
): Promise<void> {
  const write = async (bytes: Uint8Array): Promise<void> => {
    if (!stdin.write(bytes)) await once(stdin, 'drain');
  };
  await write(encodeRequest(request));
  if (file) {
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
      for (const frame of encodeDataFrames('PACKAGE_DATA', chunk as Buffer)) await write(frame);
    }
  }
  if (options.keepOpen !== true) stdin.end();
}

/**
 * The error to throw for the worker's ERROR frame. untrusted: from the worker, its message is
 * shown as one quoted line, so it can neither forge output lines nor pass for tmpl's own words.
 */
export function workerFailure(frame: Frame): OrchestratorError {
  const e = decodeJsonFrame(frame, 'ERROR');
  // The worker's template lacks an addon and the command standing in for it: the fix is on the
  // admin's side (install tmpl-worker fully), so it keeps its own code for --json and scripts.
  if (e.code === 'worker.missing-dependency') {
    return new OrchestratorError(
      'worker.missing-dependency',
      `the worker's template lacks a dependency: ${quotedLine(e.message)}`,
    );
  }
  return new OrchestratorError(
    'worker.reported-error',
    `the worker failed: [${e.code}] ${quotedLine(e.message)}`,
  );
}
