/**
 * `tmpl list` and `tmpl info`: gathers the installed templates and the repositories' listing,
 * selects as qvm-template does (cli/listing-selection.ts) and prints in one of its formats
 * (cli/listing-format.ts).
 */
import { createApp, loadRepos, type App } from '../context.ts';
import { flag, type OptionSpec, type ParsedArgs } from '../arguments.ts';
import { diskUtilization, listInstalled } from '../../qubes/installed-templates.ts';
import { reportQueryWarnings } from '../output.ts';
import { queryRepos } from '../../worker/query.ts';
import { candidates } from '../../repos/package-choice.ts';
import * as listing from '../listing-selection.ts';
import { formatListing, listingFormat, type ListingCommand } from '../listing-format.ts';
import type { Command, CommandContext } from './types.ts';

const LIST_OPTIONS: readonly OptionSpec[] = [
  { name: 'all', kind: 'flag', help: 'installed and available templates (the default)' },
  { name: 'installed', kind: 'flag', help: 'installed templates' },
  { name: 'available', kind: 'flag', help: 'templates in the repositories' },
  { name: 'extras', kind: 'flag', help: 'installed templates not in any repository' },
  { name: 'upgrades', kind: 'flag', help: 'templates with a higher version available' },
  { name: 'all-versions', kind: 'flag', help: 'every version, not only the latest' },
  { name: 'machine-readable', kind: 'flag', help: 'one |-separated line per template' },
  { name: 'machine-readable-json', kind: 'flag', help: 'one JSON object' },
];

function listingFlags(args: ParsedArgs): listing.ListingFlags {
  return {
    all: flag(args, 'all'),
    installed: flag(args, 'installed'),
    available: flag(args, 'available'),
    extras: flag(args, 'extras'),
    upgrades: flag(args, 'upgrades'),
    allVersions: flag(args, 'all-versions'),
  };
}

/** The available packages the selection lists; the worker's warnings on stderr at once in human formats. */
async function available(ctx: CommandContext, app: App, flags: listing.ListingFlags, json: boolean) {
  if (!listing.listingNeedsRepos(flags)) return { remote: [], warnings: [] };
  const args = ctx.args!;
  const repos = await loadRepos(app, args);
  for (const warning of repos.warnings) app.log.warn(warning);
  const query = await queryRepos(app, repos);
  reportQueryWarnings(ctx.stderr, json, query.warnings);
  const remote = listing.listedAvailable(candidates(query.packages), args.positionals, flags.allVersions);
  return { remote, warnings: query.warnings };
}

function listCommand(name: ListingCommand, summary: string): Command {
  return {
    name,
    summary,
    options: LIST_OPTIONS,
    usage: `tmpl ${name} [--all|--installed|--available|--extras|--upgrades] [--all-versions] [--machine-readable|--machine-readable-json] [TEMPLATESPEC...]`,
    async run(ctx) {
      const args = ctx.args!;
      const app = createApp(args, ctx.env, ctx.signal);
      const flags = listingFlags(args);
      const format = listingFormat({
        machineReadable: flag(args, 'machine-readable'),
        machineReadableJson: flag(args, 'machine-readable-json'),
        json: flag(args, 'json'),
      });
      const { remote, warnings } = await available(ctx, app, flags, format === 'json');
      const local = listing.listedInstalled(await listInstalled(app.admin), args.positionals);
      // qvm-template's size of an installed template is its disk utilization; only info shows it.
      const used = new Map<string, number>();
      if (name === 'info') for (const t of local) used.set(t.name, await diskUtilization(app.admin, t.name));
      const rows = listing.selectListing(flags, local, remote, used);
      ctx.stdout.write(formatListing(name, rows, format, warnings));
      return 0;
    },
  };
}

export const listCommands: readonly Command[] = [
  listCommand('list', 'list templates'),
  listCommand('info', 'show details of templates'),
];
