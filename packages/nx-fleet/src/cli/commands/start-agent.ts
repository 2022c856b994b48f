import type { CommandModule } from 'yargs';
import { agentNameFromEnv, runAgent } from '../../agent/agent';
import { assertFrontDoor } from '../../nx/front-door';
import { nxCliPath } from '../../nx/load';
import { cliContext, type CommonArgs } from '../context';

interface Args extends CommonArgs {
  parallel: number;
  name?: string;
  'join-timeout': number;
}

export const startAgent: CommandModule<object, Args> = {
  command: 'start-agent',
  describe: 'Join the run as an agent: run leased tasks until the run completes, then exit 0',
  builder: (y) =>
    y
      .option('parallel', { type: 'number', default: 3, describe: 'Tasks this agent runs at once' })
      .option('name', { type: 'string', describe: 'A name unique within the run (default: FLEET_AGENT_NAME, else host and pid)' })
      .option('join-timeout', { type: 'number', default: 600, describe: 'Seconds to wait for the main job to open the run' })
      .check((a) => {
        if (!Number.isInteger(a.parallel) || a.parallel < 1 || a.parallel > 64) throw new Error('--parallel must be a whole number from 1 to 64');
        const join = a['join-timeout'];
        if (!Number.isFinite(join) || join < 0 || join > 24 * 3600) throw new Error('--join-timeout must be a number of seconds from 0 to 86400');
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = cliContext(args);
    assertFrontDoor(ctx.workspaceRoot);
    const name = args.name ?? agentNameFromEnv(process.env);
    // the workspace's own Nx, never one bundled with nx-fleet
    const nxBin = nxCliPath(ctx.workspaceRoot);
    const result = await runAgent({
      client: ctx.client,
      runId: ctx.runId,
      name,
      parallel: args.parallel,
      workspaceRoot: ctx.workspaceRoot,
      reporter: ctx.reporter,
      output: (_taskId, chunk) => process.stdout.write(chunk),
      joinTimeoutMs: args['join-timeout'] * 1000,
      nxBin,
    });
    ctx.reporter.info(`agent ${name} is done: ${result.tasksRun} task${result.tasksRun === 1 ? '' : 's'} run; ${result.reason}`);
  },
};
