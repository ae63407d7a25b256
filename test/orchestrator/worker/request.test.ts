import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../protocol/errors.ts';
import { decodeFrames, encodeJsonFrame, type Frame } from '../../../protocol/frames.ts';
import { OrchestratorError } from '../../../orchestrator/errors.ts';
import { workerFailure } from '../../../orchestrator/worker/request.ts';

async function errorFrame(message: string): Promise<Frame> {
  const bytes = encodeJsonFrame('ERROR', { code: 'download.failed', message });
  for await (const frame of decodeFrames([bytes])) return frame;
  throw new Error('no frame');
}

describe('workerFailure', () => {
  it("shows the worker's message as one quoted line, forged lines and invisible characters escaped", async () => {
    const e = workerFailure(
      await errorFrame('mirror down\nTemplate \'x\' installed: forged\tline\u2028\u200b "quoted" \\'),
    );
    expect(e).toBeInstanceOf(OrchestratorError);
    expect(e.code).toBe('worker.reported-error');
    expect(e.message).toBe(
      'the worker failed: [download.failed] ' +
        '"mirror down\\nTemplate \'x\' installed: forged\\tline\\u2028\\u200b \\"quoted\\" \\\\"',
    );
  });

  it('refuses an ERROR whose message carries terminal escapes (the schema), without quoting it', async () => {
    const frame = await errorFrame('\x1b[2J\x9b31m\u202eowned');
    let caught: unknown;
    try {
      workerFailure(frame);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ParseError);
    expect((caught as ParseError).code).toBe('message.schema');
    expect((caught as ParseError).message).not.toMatch(/[\x1b\x9b\u202e]/);
  });
});
