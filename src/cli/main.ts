import { Command, type CommanderError } from 'commander';
import { deliveryCommands } from './deliveries.js';
import { eventCommands } from './events.js';
import { EXIT, exitWithFailure } from './failure.js';
import { importCommand } from './import.js';
import { listenCommand } from './listen.js';
import { serviceCommands } from './service.js';
import { subscriptionCommands } from './subscriptions.js';
import { triggerCommand } from './trigger.js';

const OVERVIEW = `
Exit status (each command's --help lists its own): 0 done, 1 refused or failed, 2 usage or
configuration error, 3 partly done, 4 could not reach the service or the database, 5 timed out.
Every failure is one line on stderr, "fpt-events: …" (with its stack at LOG_LEVEL=debug).

Commands that talk to a running service take --url (FPT_URL) and --api-key (FPT_API_KEY), and
--json for scripts.`;

export function buildProgram(): Command {
  const program = new Command()
    .name('fpt-events')
    .description('Contact history, coalesced contact events and signed webhook delivery for FPT')
    .showHelpAfterError('(fpt-events --help, or fpt-events <command> --help, for usage)')
    // usage errors (an unknown option, a missing argument) exit 2, as configuration errors do
    .exitOverride((err: CommanderError) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(EXIT.usage);
    })
    .addHelpText('after', OVERVIEW);
  serviceCommands(program);
  importCommand(program);
  listenCommand(program);
  triggerCommand(program);
  subscriptionCommands(program);
  deliveryCommands(program);
  eventCommands(program);
  return program;
}

/** Runs the command line; any failure is one line on stderr and the documented exit status. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    exitWithFailure(err);
  }
}
