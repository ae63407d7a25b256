/**
 * Attack: repository metadata without a valid signature while the repository says
 * repo_gpgcheck=1: a mirror (or a network attacker) serving its own repomd.xml, unsigned or
 * signed by another key, to list packages of its choosing or hide updates (freeze). The worker
 * refuses the metadata, so there is nothing to install and nothing changes.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { generateSigningKey, signDetachedArmored } from '../../sim/forge/index.ts';
import { defineAttack, jsonOf, smallTemplate, type AttackCase } from '../helpers/kit/index.ts';

const signature = (repoDir: string): string => path.join(repoDir, 'repodata', 'repomd.xml.asc');

/** Both attacks are refused by the worker, and its report names repomd. */
const REFUSED: Pick<AttackCase, 'argv' | 'code' | 'check'> = {
  argv: ['install', '--skip-start', 'fedora-meta'],
  code: 'worker.reported-error',
  check: (run) => expect(jsonOf(run).error?.message).toMatch(/repomd/i),
};

defineAttack(
  'tmpl-sec-repomd-',
  { templates: [smallTemplate('fedora-meta', '4.2.0', '1', 'm')], repoGpgcheck: true },
  [
    {
      name: 'repomd.xml without its signature: refused, nothing installed',
      arrange: ({ scenario }) => rm(signature(scenario.repoDir)),
      ...REFUSED,
    },
    {
      name: 'repomd.xml signed by another key: refused, nothing installed',
      arrange: async ({ scenario }) => {
        const other = await generateSigningKey('Mirror');
        const repomd = await readFile(path.join(scenario.repoDir, 'repodata', 'repomd.xml'));
        await writeFile(signature(scenario.repoDir), await signDetachedArmored(other, repomd));
      },
      ...REFUSED,
    },
  ],
);
