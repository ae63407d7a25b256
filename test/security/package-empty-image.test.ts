/**
 * Attack: a package signed with the trusted key whose root image is 0 bytes. Qubes commits an
 * import once it has `size` bytes, so with nothing to hold back the import would commit before
 * the small files verified, and a failed upgrade left an empty root volume. The sparse-tar
 * member's realsize 0 is refused before the import starts: the upgrade fails, the old root
 * volume stays byte-identical.
 */
import { defineAttack, smallTemplate } from '../helpers/kit/index.ts';

const NAME = 'fedora-hollow';

defineAttack(
  'tmpl-sec-empty-image-',
  {
    templates: [smallTemplate(NAME, '4.2.0', '2', 'unused', { image: { size: 0, extents: [] } })],
    planted: smallTemplate(NAME, '4.2.0', '1', 'planted'),
  },
  [
    {
      name: 'a signed package with a 0-byte image: refused, the old root volume stays',
      argv: ['upgrade', '--yes', '--skip-start', NAME],
      code: 'image.empty',
    },
  ],
);
