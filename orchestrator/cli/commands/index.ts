import type { Command } from './types.ts';
import { verifyCommand } from './verify.ts';
import { installCommands } from './install.ts';
import { listCommands } from './list.ts';
import { removeCommands } from './remove.ts';
import { downloadCommand } from './download.ts';
import { searchCommand } from './search.ts';
import { repolistCommand } from './repolist.ts';
import { cleanCommand } from './clean.ts';
import { refreshMetadataCommand } from './refresh-metadata.ts';
import { migrateCommand } from './migrate.ts';
import { setupCommand } from './setup.ts';

/** Every subcommand of `tmpl`, in the order `tmpl --help` lists them. */
export const commands: readonly Command[] = [
  ...installCommands,
  downloadCommand,
  ...listCommands,
  searchCommand,
  ...removeCommands,
  refreshMetadataCommand,
  cleanCommand,
  repolistCommand,
  migrateCommand,
  verifyCommand,
  setupCommand,
];
