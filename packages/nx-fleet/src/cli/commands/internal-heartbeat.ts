import type { CommandModule } from 'yargs';
import { runMainHeartbeat } from '../../ci-run/heartbeat';
import { FleetClient } from '../../client/fleet-client';
import { requireClientConfig } from '../../config';
import { streamReporter } from '../../reporter';
import { readRunMarker } from '../../run-marker';

interface Args {
  'run-id': string;
  workspace: string;
}

/** Started by start-ci-run, not by users: the main job's heartbeat for the rest of the CI job. */
export const internalHeartbeat: CommandModule<object, Args> = {
  command: 'internal-heartbeat',
  describe: false,
  builder: (y) => y.option('run-id', { type: 'string', demandOption: true }).option('workspace', { type: 'string', demandOption: true }) as never,
  handler: async (args) => {
    const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
    const config = requireClientConfig(process.env, {});
    const runId = args['run-id'];
    const end = await runMainHeartbeat({
      client: new FleetClient(config),
      runId,
      reporter,
      // stop-all-agents removes the marker; a later start-ci-run in the same checkout replaces it
      stillHeld: () => readRunMarker(args.workspace)?.runId === runId,
    });
    reporter.info(`main heartbeat for run ${runId} ended: ${end}`);
  },
};
