import type { CommandModule } from 'yargs';
import { removeRunMarker } from '../../run-marker';
import { cliContext, type CommonArgs } from '../context';

export const stopAllAgents: CommandModule<object, CommonArgs> = {
  command: 'stop-all-agents',
  aliases: ['complete-ci-run'],
  describe: 'Complete the run: every agent exits 0. Run it always, even after a failed step',
  builder: (y) => y,
  handler: async (args) => {
    const ctx = cliContext(args);
    const run = await ctx.client.completeRun(ctx.runId);
    removeRunMarker(ctx.workspaceRoot);
    const failed = run.failedTasks.length ? `; failed tasks: ${run.failedTasks.join(', ')}` : '';
    ctx.reporter.info(`run ${run.runId} is ${run.status}${failed}; agents are told to exit`);
    if (run.status === 'failed') process.exitCode = 1;
  },
};
