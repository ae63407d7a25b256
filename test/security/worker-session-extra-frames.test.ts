/**
 * Attack: a subverted worker that answers the query honestly, then, in the same session and
 * before the orchestrator asks for the package, sends frames of its own (PROGRESS and END, as
 * if it had answered a request nobody sent). What the worker does between requests is not
 * trusted: those frames open the package's reply, whose first frame must be HELLO, and the
 * reinstall is refused before anything changes.
 */
import { defineAttack, installedVictim } from '../helpers/e2e-world.ts';

const NAME = 'fedora-victim';

defineAttack('tmpl-sec-session-extra-', installedVictim(NAME, ['1'], 'query-extra-frames'), [
  {
    name: 'frames between the query and the package request: refused, the root volume stays',
    argv: ['reinstall', '--yes', '--skip-start', NAME],
    code: 'frame.unexpected',
  },
]);
