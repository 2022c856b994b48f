import yargs from 'yargs';
import { describeError } from '../util/errors';
import { internalHeartbeat } from './commands/internal-heartbeat';
import { internalRelay } from './commands/internal-relay';
import { serve } from './commands/serve';
import { startAgent } from './commands/start-agent';
import { startCiRun } from './commands/start-ci-run';
import { stopAllAgents } from './commands/stop-all-agents';
import { token } from './commands/token';

/** `npx nx-fleet <command>`. Errors end in one line naming what was wrong, and exit 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    await yargs(argv)
      .scriptName('nx-fleet')
      .usage('$0 <command> [options]\n\nSelf-hosted distributed task execution for Nx.')
      .option('url', { type: 'string', describe: 'Coordinator URL (default: FLEET_URL, else the runner options in nx.json)' })
      .option('verbose', { type: 'boolean', default: false, describe: 'Print debugging details' })
      .command(startCiRun)
      .command(startAgent)
      .command(stopAllAgents)
      .command(serve)
      .command(token)
      .command(internalRelay)
      .command(internalHeartbeat)
      .demandCommand(1, 'name a command: start-ci-run, start-agent, stop-all-agents, serve or token')
      .strict()
      .fail((message, error, y) => {
        if (error) throw error;
        process.stderr.write(`${y.help()}\n`);
        throw new Error(message);
      })
      .help()
      .parseAsync();
  } catch (error) {
    process.stderr.write(`nx-fleet: ${describeError(error)}\n`);
    process.exitCode = 1;
  }
}
