/**
 * A worker that lies: a test double speaking the worker protocol, used as the tmpl.Worker
 * service of a disposable in end-to-end security tests. It runs the real worker and rewrites
 * its frames according to TMPL_LIE, so every lie is told with otherwise genuine bytes.
 *
 *   corrupt-last-part   flip one byte in the last FILE_DATA of the last root.img part
 *   other-head          send the head of TMPL_LIE_PACKAGE (another package) instead
 *   metadata-mismatch   METADATA names another release
 *   unlisted-file       send a file the header does not list, before END
 *   extra-frames        send frames after END
 *   query-extra-frames  after the query's END, before the next request: PROGRESS and END
 *   truncate            stop in the middle of the first root.img part
 *   hang                stop sending in the middle of the first root.img part, stay alive
 *   flood               after the first FILE_BEGIN, send FILE_DATA without end
 *   error-injection     instead of the HEAD, an ERROR whose message forges output lines with
 *                       characters the ERROR schema allows (LF, TAB, U+2028, zero-width)
 *   error-injection-escape  the same with terminal escapes (ESC, C1 CSI, bidi override), which
 *                       the schema refuses
 *   stale-repomd        in QUERY_RESULT, send TMPL_LIE_REPOMD and TMPL_LIE_REPOMD_ASC (an older,
 *                       validly signed repomd.xml) as the first repository's evidence
 *   forged-repomd       in QUERY_RESULT, raise the first repository's <revision> by 1000,
 *                       keeping its signature
 *   drop-settings       leave template.conf and the appmenu lists out of METADATA and the stream
 *                       (END's totals adjusted to match)
 *   progress-stall      once the first root.img part began, send PROGRESS every 0.5 s, nothing else
 *   empty-data-flood    once the first root.img part began, send empty FILE_DATA frames without end
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeFrames, encodeFrame, encodeJsonFrame, type Frame } from '../../protocol/frames.ts';
import { parsePackageHead } from '../../protocol/rpm-package.ts';

const lie = process.env.TMPL_LIE ?? '';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const honest = spawn(process.execPath, [path.join(root, 'bin/tmpl-worker.mjs')], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
process.stdin.pipe(honest.stdin);

const out = process.stdout;
function send(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => (out.write(bytes) ? resolve() : out.once('drain', () => resolve())));
}
function forward(frame: Frame): Promise<void> {
  return send(encodeFrame(frame.type, frame.payload));
}

/** The forged ERROR messages (test/security/worker-error-injection.test.ts expects them quoted). */
const INJECTED_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  'error-injection':
    "download failed\nTemplate 'fedora-victim' upgraded: qubes-template-fedora-victim-4.2.0-9 from qubes-templates-itl" +
    "\u2028Template 'x' installed: forged\tline\u200b",
  'error-injection-escape': "\x1b[2J\x1b]0;owned\x07\x9b31m\u202edeliaf\nTemplate 'x' installed: forged",
};

let partsSeen = 0;
let inPart = false;
let partBytes = 0;
let lastPartData: Frame | undefined;
let partCount = 0;
let currentPath = '';
/** drop-settings: the files left out, and what they would have added to END. */
const SETTINGS = /\/(template\.conf|(netvm-|vm-)?whitelisted-appmenus\.list)$/;
let dropping = false;
let droppedFiles = 0;
let droppedBytes = 0;
/** Lies about files and the end are told in fetch/unpack streams only (the ones with a HEAD). */
let sawHead = false;

for await (const frame of decodeFrames(honest.stdout)) {
  if (frame.type === 'HEAD') sawHead = true;
  const injected = INJECTED_ERROR_MESSAGES[lie];
  if (frame.type === 'HEAD' && injected !== undefined) {
    // A raw frame, not through the schema: the worker may send whatever it likes.
    await send(encodeJsonFrame('ERROR', { code: 'download.failed', message: injected }));
    honest.kill('SIGKILL');
    break;
  }
  if (frame.type === 'QUERY_RESULT' && (lie === 'stale-repomd' || lie === 'forged-repomd')) {
    const result = JSON.parse(new TextDecoder().decode(frame.payload)) as {
      repomd: { repomd: string; signature: string | null }[];
    };
    const first = result.repomd[0]!;
    if (lie === 'stale-repomd') {
      first.repomd = readFileSync(process.env.TMPL_LIE_REPOMD!).toString('base64');
      first.signature = readFileSync(process.env.TMPL_LIE_REPOMD_ASC!, 'utf8');
    } else {
      const text = Buffer.from(first.repomd, 'base64').toString('latin1');
      const raised = text.replace(
        /<revision>([0-9]+)<\/revision>/,
        (_, r: string) => `<revision>${BigInt(r) + 1000n}</revision>`,
      );
      first.repomd = Buffer.from(raised, 'latin1').toString('base64');
    }
    await send(encodeJsonFrame('QUERY_RESULT', result));
    continue;
  }
  if (frame.type === 'HEAD' && lie === 'other-head') {
    const other = readFileSync(process.env.TMPL_LIE_PACKAGE!);
    const head = parsePackageHead(other);
    await send(encodeFrame('HEAD', head.headBytes));
    continue;
  }
  if (frame.type === 'METADATA') {
    const meta = JSON.parse(new TextDecoder().decode(frame.payload)) as {
      package: { release: string };
      files: { path: string }[];
    };
    partCount = meta.files.filter((f) => /root\.img\.part\./.test(f.path)).length;
    if (lie === 'metadata-mismatch') {
      meta.package.release = `${meta.package.release}.1`;
      await send(encodeJsonFrame('METADATA', meta));
      continue;
    }
    if (lie === 'drop-settings') {
      meta.files = meta.files.filter((f) => !SETTINGS.test(f.path));
      await send(encodeJsonFrame('METADATA', meta));
      continue;
    }
  }
  if (lie === 'drop-settings' && sawHead) {
    if (frame.type === 'FILE_BEGIN') {
      dropping = SETTINGS.test(
        (JSON.parse(new TextDecoder().decode(frame.payload)) as { path: string }).path,
      );
      if (dropping) droppedFiles++;
    }
    if (dropping) {
      if (frame.type === 'FILE_DATA') droppedBytes += frame.payload.length;
      if (frame.type === 'FILE_END') dropping = false;
      continue;
    }
    if (frame.type === 'END') {
      const end = JSON.parse(new TextDecoder().decode(frame.payload)) as { files: number; bytes: number };
      await send(
        encodeJsonFrame('END', { files: end.files - droppedFiles, bytes: end.bytes - droppedBytes }),
      );
      continue;
    }
  }
  if (frame.type === 'FILE_BEGIN') {
    currentPath = (JSON.parse(new TextDecoder().decode(frame.payload)) as { path: string }).path;
    inPart = /root\.img\.part\./.test(currentPath);
    if (inPart) partsSeen++;
    partBytes = 0;
    if (lie === 'flood') {
      await forward(frame);
      const chunk = new Uint8Array(1024 * 1024).fill(0x41);
      for (;;) await send(encodeFrame('FILE_DATA', chunk));
    }
  }
  if (frame.type === 'FILE_DATA' && inPart && partsSeen === 1 && lie === 'progress-stall') {
    await forward(frame);
    for (let done = partBytes + frame.payload.length; ; done++) {
      await send(encodeJsonFrame('PROGRESS', { stage: 'unpack', done }));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  if (frame.type === 'FILE_DATA' && inPart && partsSeen === 1 && lie === 'empty-data-flood') {
    await forward(frame);
    const empty = encodeFrame('FILE_DATA');
    for (;;) await send(empty);
  }
  if (frame.type === 'FILE_DATA' && inPart) {
    partBytes += frame.payload.length;
    if ((lie === 'truncate' || lie === 'hang') && partsSeen === 1 && partBytes > 64 * 1024) {
      if (lie === 'hang') await new Promise(() => {});
      honest.kill('SIGKILL');
      process.exit(0);
    }
    if (lie === 'corrupt-last-part' && partsSeen === partCount) {
      if (lastPartData) await forward(lastPartData);
      lastPartData = frame;
      continue;
    }
  }
  if (frame.type === 'FILE_END' && lastPartData && inPart && partsSeen === partCount) {
    const copy = new Uint8Array(lastPartData.payload);
    copy[copy.length >> 1]! ^= 0x01;
    await send(encodeFrame('FILE_DATA', copy));
    lastPartData = undefined;
  }
  if (frame.type === 'END' && lie === 'unlisted-file' && sawHead) {
    const dir = currentPath.slice(0, currentPath.lastIndexOf('/'));
    const evil = `${dir}/evil.sh`;
    await send(encodeJsonFrame('FILE_BEGIN', { path: evil, size: 4 }));
    await send(encodeFrame('FILE_DATA', new TextEncoder().encode('evil')));
    await send(encodeJsonFrame('FILE_END', { path: evil }));
  }
  await forward(frame);
  if (frame.type === 'END' && lie === 'query-extra-frames' && !sawHead) {
    await send(encodeJsonFrame('PROGRESS', { stage: 'download', done: 0 }));
    await send(encodeJsonFrame('END', { files: 0, bytes: 0 }));
  }
  if (frame.type === 'END' && lie === 'extra-frames' && sawHead) {
    await send(encodeJsonFrame('PROGRESS', { stage: 'unpack', done: 0 }));
    await send(encodeJsonFrame('END', { files: 0, bytes: 0 }));
  }
}
out.end();
