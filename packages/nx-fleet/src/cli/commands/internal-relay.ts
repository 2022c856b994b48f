import type { CommandModule } from 'yargs';
import { FleetClient } from '../../client/fleet-client';
import { requireClientConfig } from '../../config';
import { runSidecar } from '../../relay/sidecar';
import { streamReporter } from '../../reporter';

interface Args {
  'execution-id': string;
  dir: string;
  workspace: string;
  'parent-pid': number;
}

/** Started by the Nx 21+ plugin hook, not by users: the relay of one execution. */
export const internalRelay: CommandModule<object, Args> = {
  command: 'internal-relay',
  describe: false,
  builder: (y) =>
    y
      .option('execution-id', { type: 'string', demandOption: true })
      .option('dir', { type: 'string', demandOption: true })
      .option('workspace', { type: 'string', demandOption: true })
      .option('parent-pid', { type: 'number', default: 0 }) as never,
  handler: async (args) => {
    const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
    const config = requireClientConfig(process.env, {});
    await runSidecar({
      client: new FleetClient(config),
      reporter,
      executionId: args['execution-id'],
      dir: args.dir,
      workspaceRoot: args.workspace,
      parentPid: args['parent-pid'] > 1 ? args['parent-pid'] : null,
      maxLifeMs: 6 * 3600_000,
    });
  },
};
