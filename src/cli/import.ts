import type { Command } from 'commander';
import { EXIT } from './failure.js';
import { apiOptions, apiTarget, exitHelp, positiveInt, withHelp } from './options.js';

/** `fpt-events import`: a CSV or JSON file of contacts sent to a running service. */
export function importCommand(program: Command): void {
  withHelp(
    apiOptions(
      program
        .command('import')
        .description(
          'send a CSV or JSON file of contacts to a running service and apply it (create or update, per-row errors)',
        )
        .argument(
          '<file>',
          'a .csv file (header of field names, customFields.<name> columns; the format is in docs/api.md) or a .json file (an array of contacts)',
        )
        .requiredOption('-l, --location <id>', 'the location to import into', positiveInt('a location id'))
        .option('--deactivate-missing', "deactivate the location's active contacts that no row names", false),
    ),
    {
      exit: exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.partial, EXIT.unreachable], {
        [EXIT.ok]: 'every row applied',
        [EXIT.failed]: 'the import was refused (nothing applied)',
        [EXIT.usage]: 'usage error: no API key, the file cannot be read',
        [EXIT.partial]: 'some rows were rejected (they are listed); the others were applied',
      }),
      env: ['FPT_URL', 'FPT_API_KEY'],
    },
  ).action(
    async (
      file: string,
      opts: { location: number; deactivateMissing: boolean; url?: string; apiKey?: string; key?: string },
    ) => {
      const target = apiTarget(opts);
      const { runImport } = await import('../import-cli.js');
      process.exitCode = await runImport({
        file,
        location: opts.location,
        url: target.url,
        key: target.key,
        deactivateMissing: opts.deactivateMissing,
        progress: (line) => process.stderr.write(`${line}\n`),
        out: (line) => process.stdout.write(`${line}\n`),
      });
    },
  );
}
