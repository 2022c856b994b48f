import type { CommandModule } from 'yargs';
import { resolveBranch } from '../../identity';
import { assertFrontDoor } from '../../nx/front-door';
import { writeRunMarker } from '../../run-marker';
import { FleetError } from '../../util/errors';
import { cliContext, type CommonArgs } from '../context';

interface Args extends CommonArgs {
  agents: number;
  'stop-agents-on-failure': boolean;
}

export const startCiRun: CommandModule<object, Args> = {
  command: 'start-ci-run',
  describe: 'Open the run on the coordinator; the next nx commands in this job are distributed to agents',
  builder: (y) =>
    y
      .option('agents', { type: 'number', default: 0, describe: 'How many agent jobs the pipeline starts (for progress and the summary)' })
      .option('stop-agents-on-failure', { type: 'boolean', default: true, describe: 'End the run (agents leave) once a task has failed' })
      .check((a) => {
        if (!Number.isInteger(a.agents) || a.agents < 0 || a.agents > 1000) throw new Error('--agents must be a whole number from 0 to 1000');
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = cliContext(args);
    assertFrontDoor(ctx.workspaceRoot);
    const run = await ctx.client.createRun({
      runId: ctx.runId,
      agents: args.agents,
      stopAgentsOnFailure: args['stop-agents-on-failure'],
      ...(resolveBranch(process.env) ? { branch: resolveBranch(process.env) } : {}),
    });
    if (run.status !== 'open') {
      throw new FleetError(
        `run ${run.runId} is already ${run.status} and takes no new commands: ` +
          'give this pipeline attempt its own run id (FLEET_RUN_ID, or FLEET_RUN_GROUP to tell several apart)',
        'run_closed',
      );
    }
    writeRunMarker(ctx.workspaceRoot, {
      runId: run.runId,
      url: ctx.client.url,
      createdAt: Date.now(),
      stopAgentsOnFailure: run.stopAgentsOnFailure,
    });
    ctx.reporter.info(`run ${run.runId} is open at ${ctx.client.url}; nx commands in this job are now distributed`);
  },
};
