import type { CommandModule } from 'yargs';
import { agentNameFromEnv, DEFAULT_IDLE_TIMEOUT_MS, runAgent } from '../../agent/agent';
import { assertFrontDoor } from '../../nx/front-door';
import { nxCliPath } from '../../nx/load';
import { cliContext, type CommonArgs } from '../context';

interface Args extends CommonArgs {
  parallel: number;
  name?: string;
  'join-timeout': number;
  'idle-timeout': number;
}

export const startAgent: CommandModule<object, Args> = {
  command: 'start-agent',
  describe: 'Join the run as an agent: run leased tasks until the run completes, then exit 0',
  builder: (y) =>
    y
      .option('parallel', { type: 'number', default: 3, describe: 'Tasks this agent runs at once' })
      .option('name', { type: 'string', describe: 'A name unique within the run (default: FLEET_AGENT_NAME, else host and pid)' })
      .option('join-timeout', { type: 'number', default: 600, describe: 'Seconds to wait for the main job to open the run' })
      .option('idle-timeout', {
        type: 'number',
        default: DEFAULT_IDLE_TIMEOUT_MS / 1000,
        describe: 'Seconds with no task and no running execution in the run before the agent leaves (exit 1)',
      })
      .check((a) => {
        if (!Number.isInteger(a.parallel) || a.parallel < 1 || a.parallel > 64) throw new Error('--parallel must be a whole number from 1 to 64');
        const join = a['join-timeout'];
        if (!Number.isFinite(join) || join < 0 || join > 24 * 3600) throw new Error('--join-timeout must be a number of seconds from 0 to 86400');
        const idle = a['idle-timeout'];
        if (!Number.isFinite(idle) || idle < 1 || idle > 24 * 3600) throw new Error('--idle-timeout must be a number of seconds from 1 to 86400');
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = cliContext(args);
    assertFrontDoor(ctx.workspaceRoot);
    const name = args.name ?? agentNameFromEnv(process.env);
    // the workspace's own Nx, never one bundled with nx-fleet
    const nxBin = nxCliPath(ctx.workspaceRoot);
    // SIGTERM/SIGINT (a cancelled or preempted CI job): stop the tasks, hand their leases back, leave
    const stopping = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      ctx.reporter.warn(`agent ${name} got ${signal}: stopping its tasks and handing them back to the run`);
      stopping.abort();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const result = await runAgent({
      client: ctx.client,
      runId: ctx.runId,
      name,
      parallel: args.parallel,
      workspaceRoot: ctx.workspaceRoot,
      reporter: ctx.reporter,
      output: (_taskId, chunk) => process.stdout.write(chunk),
      joinTimeoutMs: args['join-timeout'] * 1000,
      idleTimeoutMs: args['idle-timeout'] * 1000,
      nxBin,
      signal: stopping.signal,
      leaseNext: process.env.FLEET_LEASE_NEXT !== 'false',
    });
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    const summary = `agent ${name} is done: ${result.tasksRun} task${result.tasksRun === 1 ? '' : 's'} run; ${result.reason}`;
    if (result.abnormal === null) ctx.reporter.info(summary);
    else {
      ctx.reporter.warn(summary);
      process.exitCode = stopping.signal.aborted ? 143 : 1;
    }
  },
};
