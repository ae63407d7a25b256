/** Binary-safe, backpressured streaming through the real client, the daemon and a sandboxed service. */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { expect, test } from 'vitest';
import {
  CLIENT_VM,
  runClient,
  writePolicy,
  writeServiceTable,
  useQrexecSim,
} from '../helpers/qrexec-helpers.ts';

const MiB = 1024 * 1024;
const TOTAL_MIB = 256;

const world = useQrexecSim('qrx-stream-', (sim, fixtures) => {
  fs.writeFileSync(
    path.join(fixtures, 'both.mjs'),
    `const a = Buffer.alloc(${MiB}); for (let i = 0; i < a.length; i++) a[i] = (i * 7) & 255;
     process.stderr.write(a); process.stdout.write(Buffer.from(a).reverse()); process.exitCode = 9;`,
  );
  writeServiceTable(sim.dir, {
    'fedora-41-xfce': {
      'test.Cat': { argv: ['/bin/cat'] },
      'test.Yes': { argv: ['/usr/bin/yes'] },
      'test.Both': { argv: ['node', path.join(fixtures, 'both.mjs')], readOnlyBinds: [fixtures] },
    },
  });
  writePolicy(
    sim.dir,
    '10-test.policy',
    'test.Cat * mgmt work allow\ntest.Both * mgmt work allow\ntest.Yes * mgmt work allow\n',
  );
});

function maxRssOf(pid: number, sink: { max: number }): NodeJS.Timeout {
  return setInterval(() => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) sink.max = Math.max(sink.max, Number(match[1]) * 1024);
    } catch {
      // exited
    }
  }, 50);
}

test(`${TOTAL_MIB} MiB round trip: byte-exact, bounded memory, a stalled reader stalls the writer`, async () => {
  const child = spawn(process.execPath, [CLIENT_VM, 'work', 'test.Cat'], {
    env: { ...process.env, TMPL_SIM_DIR: world.sim.dir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const rss = { max: 0 };
  const timer = maxRssOf(child.pid!, rss);
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

  const block = crypto.randomBytes(MiB);
  const sent = crypto.createHash('sha256');
  const received = crypto.createHash('sha256');
  let written = 0;
  let read = 0;
  let maxInFlightWhileStalled = 0;

  const writer = (async () => {
    for (let i = 0; i < TOTAL_MIB; i++) {
      const chunk = Buffer.from(block);
      chunk.writeUInt32BE(i, 0); // any reordering or duplication changes the digest
      sent.update(chunk);
      written += chunk.length;
      if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
    }
    child.stdin.end();
  })();

  let stalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    received.update(chunk);
    read += chunk.length;
    if (!stalled && read >= 64 * MiB) {
      stalled = true;
      child.stdout.pause();
      setTimeout(() => {
        maxInFlightWhileStalled = written - read;
        child.stdout.resume();
      }, 1500);
    }
  });
  const [status] = (await once(child, 'close')) as [number];
  clearInterval(timer);
  await writer;

  expect(Buffer.concat(stderr).toString()).toBe('');
  expect(status).toBe(0);
  expect(read).toBe(TOTAL_MIB * MiB);
  expect(received.digest('hex')).toBe(sent.digest('hex'));
  // While nobody read the output, the writer could only get a few buffers ahead.
  expect(stalled).toBe(true);
  expect(maxInFlightWhileStalled).toBeLessThan(32 * MiB);
  console.log(
    `in flight while stalled: ${(maxInFlightWhileStalled / MiB).toFixed(1)} MiB; client max RSS ${(rss.max / MiB).toFixed(0)} MiB`,
  );
  expect(rss.max).toBeGreaterThan(0);
  expect(rss.max).toBeLessThan(160 * MiB);
});

test('stdout and stderr are forwarded separately and binary-safe, with the exit status', async () => {
  const result = await runClient(CLIENT_VM, ['work', 'test.Both'], { TMPL_SIM_DIR: world.sim.dir });
  const expected = Buffer.alloc(MiB);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 7) & 255;
  expect(result.status).toBe(9);
  expect(result.stderrBytes.equals(expected)).toBe(true);
  expect(result.stdout.equals(Buffer.from(expected).reverse())).toBe(true);
});

test('a reader that goes away ends the call and stops an endless service', async () => {
  const child = spawn(
    '/bin/bash',
    ['-c', `"${process.execPath}" ${CLIENT_VM} work test.Yes | head -c 4; echo " status=\${PIPESTATUS[0]}"`],
    {
      env: { ...process.env, TMPL_SIM_DIR: world.sim.dir },
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await once(child, 'close');
  expect(out).toBe('y\ny\n status=125\n');
  const yesRunning = (): boolean =>
    fs.readdirSync('/proc').some((pid) => {
      try {
        return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1') === '/usr/bin/yes\0';
      } catch {
        return false;
      }
    });
  const deadline = Date.now() + 10_000;
  while (yesRunning() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(yesRunning()).toBe(false);
});
