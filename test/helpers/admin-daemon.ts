/**
 * A seeded Admin API daemon (admin-raw-client.ts) for the tests of one file, started before them
 * and closed after them, and the volume facts those tests compare; kept apart from the raw
 * client, which runs outside vitest too (bench/).
 */
import { afterAll, beforeAll } from 'vitest';
import { ok, seededDaemon, type SeededDaemon } from './admin-raw-client.ts';

/** A file's seeded daemon; read it only within tests. */
export interface SeededDaemonUse {
  readonly daemon: SeededDaemon;
  /** The daemon's socket (qubesd.sock). */
  readonly socket: string;
}

/**
 * Starts a seeded daemon before the file's tests (then `setup`, e.g. the VMs they share) and
 * closes it after them.
 */
export function useSeededDaemon(
  options: Parameters<typeof seededDaemon>[0] = {},
  setup?: (socket: string) => Promise<void>,
): SeededDaemonUse {
  let daemon: SeededDaemon | undefined;
  let ready = false;
  beforeAll(async () => {
    daemon = await seededDaemon(options);
    await setup?.(daemon.socket);
    ready = true;
  });
  afterAll(async () => {
    await daemon?.close();
  });
  const get = (): SeededDaemon => {
    if (!ready || !daemon) throw new Error('the seeded daemon was not started');
    return daemon;
  };
  return {
    get daemon(): SeededDaemon {
      return get();
    },
    get socket(): string {
      return get().socket;
    },
  };
}

/** admin.vm.volume.Info of a VM's volume, as its key=value lines. */
export async function volumeInfo(
  socket: string,
  vm: string,
  volume: string,
): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await ok(socket, { method: 'admin.vm.volume.Info', dest: vm, arg: volume }))
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  ) as Record<string, string>;
}
