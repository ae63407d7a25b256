/**
 * Attack: a template package signed by a key that is not in the repository's keyring (an
 * attacker's key, or a stolen key of another repository). The repository metadata is genuine
 * and signed. The honest worker refuses the package itself; a subverted worker that forwards
 * the head anyway meets the orchestrator's own check with our keyring. Nothing is created.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  forgeRepository,
  forgeTemplate,
  generateSigningKey,
  type ForgedTemplate,
} from '../../sim/forge/index.ts';
import { defineAttack, lyingWorker, smallTemplate } from '../helpers/kit/index.ts';

let impostor: ForgedTemplate;

defineAttack(
  'tmpl-sec-unknown-key-',
  {
    templates: [smallTemplate('fedora-genuine', '4.2.0', '1', 'g')],
    prepare: async (scenario, dir) => {
      const attacker = await generateSigningKey('Attacker');
      const tempDir = path.join(dir, 'forge-tmp');
      // In the repository, listed in repomd.xml signed by the trusted key: a package signed by the attacker.
      const foreign = await forgeTemplate({
        ...smallTemplate('fedora-foreign', '4.2.0', '1', 'f'),
        outDir: scenario.repoDir,
        tempDir,
        signingKey: attacker,
      });
      await forgeRepository({
        dir: scenario.repoDir,
        packages: [...scenario.packages.map((p) => p.path), foreign.path],
        signingKey: scenario.key,
      });
      // Outside it: the genuine package's name and version, signed by the attacker.
      await mkdir(path.join(dir, 'impostor'));
      impostor = await forgeTemplate({
        ...smallTemplate('fedora-genuine', '4.2.0', '1', 'evil'),
        outDir: path.join(dir, 'impostor'),
        tempDir,
        signingKey: attacker,
      });
    },
  },
  [
    {
      name: 'a package signed by an unknown key: the worker refuses it, no VM created',
      argv: ['install', '--skip-start', 'fedora-foreign'],
      code: 'worker.reported-error',
    },
    {
      name: 'a subverted worker forwarding a head signed by an unknown key: refused with our keyring',
      worker: () =>
        lyingWorker('other-head', { TMPL_LIE_PACKAGE: impostor.path }, [path.dirname(impostor.path)]),
      argv: ['install', '--skip-start', 'fedora-genuine'],
      code: 'signature.untrusted-key',
    },
  ],
);
