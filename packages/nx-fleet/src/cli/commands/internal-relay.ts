import type { CommandModule } from 'yargs';
import { FleetClient } from '../../client/fleet-client';
import { requireClientConfig, type ClientConfig } from '../../config';
import { runCacheSidecar } from '../../relay/cache-sidecar';
import { runSidecar } from '../../relay/sidecar';
import { streamReporter } from '../../reporter';
import { readRunMarker } from '../../run-marker';

interface Args {
  /** Absent: a cache-only relay (Nx 21+ outside a run). */
  'execution-id'?: string;
  dir: string;
  workspace: string;
  'parent-pid': number;
}

/** The relay's coordinator config: main's cache requests carry the run's branch (start-ci-run --branch), else the CI's. */
export function relayClientConfig(env: NodeJS.ProcessEnv, workspaceRoot: string): ClientConfig {
  return requireClientConfig(env, { branch: readRunMarker(workspaceRoot)?.branch });
}

/** Started by the Nx 21+ plugin hook, not by users: the relay of one execution. */
export const internalRelay: CommandModule<object, Args> = {
  command: 'internal-relay',
  describe: false,
  builder: (y) =>
    y
      .option('execution-id', { type: 'string' })
      .option('dir', { type: 'string', demandOption: true })
      .option('workspace', { type: 'string', demandOption: true })
      .option('parent-pid', { type: 'number', default: 0 }) as never,
  handler: async (args) => {
    const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
    const config = relayClientConfig(process.env, args.workspace);
    const parentPid = args['parent-pid'] > 1 ? args['parent-pid'] : null;
    if (!args['execution-id']) {
      await runCacheSidecar({ client: new FleetClient(config), reporter, dir: args.dir, workspaceRoot: args.workspace, parentPid, maxLifeMs: 6 * 3600_000 });
      return;
    }
    await runSidecar({
      client: new FleetClient(config),
      reporter,
      executionId: args['execution-id'],
      dir: args.dir,
      workspaceRoot: args.workspace,
      parentPid,
      maxLifeMs: 6 * 3600_000,
    });
  },
};
