/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, made with
 * the openssl command line, so HTTPS clients can be pointed at the CA file.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface TestCertificates {
  readonly dir: string;
  readonly caCertPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** Validity of the test certificates, in days. */
const VALIDITY_DAYS = 2;

export async function makeTestCertificates(parent: string = tmpdir()): Promise<TestCertificates> {
  const dir = await mkdtemp(path.join(parent, 'tmpl-repo-tls-'));
  const p = (name: string): string => path.join(dir, name);
  const run = (args: string[]) => execa('openssl', args, { cwd: dir, stdin: 'ignore' });
  await run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    String(VALIDITY_DAYS),
    '-subj',
    '/CN=tmpl test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(
    p('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await run([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    String(VALIDITY_DAYS),
    '-extfile',
    p('server.ext'),
  ]);
  return { dir, caCertPath: p('ca.crt'), certPath: p('server.crt'), keyPath: p('server.key') };
}
