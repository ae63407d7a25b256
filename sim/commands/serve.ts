/**
 * `tmpl-sim serve --root DIR [--port P] [--https]`: serve a repository on 127.0.0.1 until
 * killed. Prints the base URL (and, with --https, the CA certificate path clients must trust).
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { startRepoServer } from '../repo-server/index.ts';
import type { SimCommand } from './types.ts';

async function serve(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      root: { type: 'string' },
      port: { type: 'string', default: '0' },
      https: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.root) throw new Error('usage: tmpl-sim serve --root DIR [--port P] [--https]');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0..65535');
  const server = await startRepoServer({
    root: values.root,
    port,
    ...(values.https ? { https: true as const } : {}),
  });
  process.stdout.write(`${server.url}\n`);
  if (server.caCertPath) process.stdout.write(`ca ${server.caCertPath}\n`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await server.close();
  return 0;
}

export const serveCommand: SimCommand = {
  name: 'serve',
  summary: 'serve a repository directory on 127.0.0.1',
  run: serve,
};
