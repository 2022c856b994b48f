import type { CommandModule } from 'yargs';
import { readRunMarker, removeRunMarker } from '../../run-marker';
import { processAlive } from '../../util/process';
import { cliContext, type CommonArgs } from '../context';

export const stopAllAgents: CommandModule<object, CommonArgs> = {
  command: 'stop-all-agents',
  aliases: ['complete-ci-run'],
  describe: 'Complete the run: every agent exits 0. Run it always, even after a failed step',
  builder: (y) => y,
  handler: async (args) => {
    const ctx = cliContext(args);
    const marker = readRunMarker(ctx.workspaceRoot);
    const run = await ctx.client.completeRun(ctx.runId);
    removeRunMarker(ctx.workspaceRoot);
    // the heartbeat would see the run closed at its next beat; end it now
    if (marker?.runId === ctx.runId && marker.heartbeatPid && processAlive(marker.heartbeatPid)) {
      try {
        process.kill(marker.heartbeatPid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
    }
    const failed = run.failedTasks.length ? `; failed tasks: ${run.failedTasks.join(', ')}` : '';
    const why = run.status === 'failed' && run.reason ? ` (${run.reason})` : '';
    ctx.reporter.info(`run ${run.runId} is ${run.status}${why}${failed}; agents are told to exit`);
    if (run.status === 'failed') process.exitCode = 1;
  },
};
