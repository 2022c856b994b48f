import type { CommandModule } from 'yargs';
import { spawnMainHeartbeat } from '../../ci-run/spawn-heartbeat';
import { cleanBranch } from '../../client/fleet-client';
import { resolveBranch } from '../../identity';
import { assertFrontDoor } from '../../nx/front-door';
import { writeRunMarker } from '../../run-marker';
import { FleetError } from '../../util/errors';
import { cliContext, type CommonArgs } from '../context';
import { runModelOptions, type RunModelFlags } from '../run-options';

interface Args extends CommonArgs, RunModelFlags {
  agents: number;
  'stop-agents-on-failure': boolean;
  'require-explicit-completion': boolean;
  branch?: string;
}

export const startCiRun: CommandModule<object, Args> = {
  command: 'start-ci-run',
  describe: 'Open the run on the coordinator; the next nx commands in this job are distributed to agents',
  builder: (y) =>
    y
      .option('agents', { type: 'number', default: 0, describe: 'How many agent jobs the pipeline starts (for progress and the summary)' })
      .option('stop-agents-on-failure', { type: 'boolean', default: true, describe: 'End the run (agents leave) once a task has failed' })
      .option('retries', { type: 'number', describe: 'Run a task that fails again, up to N times (0-10), on another agent when one is free (default 0)' })
      .option('stop-agents-after', {
        type: 'string',
        array: true,
        describe: 'Targets (comma-separated) after which agents leave: once every task of them is done and nothing else is queued',
      })
      .option('require-explicit-completion', {
        type: 'boolean',
        default: false,
        describe: 'Start no heartbeat process: the run is not failed when this job goes silent between nx commands (only stop-all-agents or the run time-out end it)',
      })
      .option('branch', {
        type: 'string',
        describe:
          'The branch this run builds, instead of the one found in the CI variables (FLEET_BRANCH, else the CI\'s; pull requests are pull/<N>): ' +
          'cache writes of this job and its agents are scoped to it unless it is a trusted branch',
      })
      .option('main-timeout', { type: 'string', describe: 'Fail the run when this job is silent this long while a command runs (seconds or 90s/5m; default 30 s)' })
      .option('run-timeout', { type: 'string', describe: 'Fail the run this long after it opened (seconds or 90m/3h; default 3 h)' })
      .option('task-timeout', { type: 'string', describe: 'Fail one attempt of a task after this long on an agent (seconds or 30m/1h; default 1 h)' })
      .check((a) => {
        if (!Number.isInteger(a.agents) || a.agents < 0 || a.agents > 1000) throw new Error('--agents must be a whole number from 0 to 1000');
        if (a.branch !== undefined && !cleanBranch(String(a.branch))) throw new Error('--branch needs a branch name');
        runModelOptions(a); // throws naming the flag and its range
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = cliContext(args);
    assertFrontDoor(ctx.workspaceRoot);
    // the run's branch; the later nx commands of this job read it from the marker
    const branch = cleanBranch(args.branch ?? resolveBranch(process.env));
    const run = await ctx.client.createRun({
      runId: ctx.runId,
      agents: args.agents,
      stopAgentsOnFailure: args['stop-agents-on-failure'],
      ...runModelOptions(args),
      ...(branch ? { branch } : {}),
    });
    if (run.status !== 'open') {
      throw new FleetError(
        `run ${run.runId} is already ${run.status} and takes no new commands: ` +
          'give this pipeline attempt its own run id (FLEET_RUN_ID, or FLEET_RUN_GROUP to tell several apart)',
        'run_closed',
      );
    }
    const marker = {
      runId: run.runId,
      url: ctx.client.url,
      createdAt: Date.now(),
      stopAgentsOnFailure: run.stopAgentsOnFailure,
      ...(branch ? { branch } : {}),
    };
    writeRunMarker(ctx.workspaceRoot, marker);
    // the heartbeat reads the marker to know it still holds the run, so it starts after it is written
    if (!args['require-explicit-completion']) {
      const heartbeatPid = spawnMainHeartbeat(ctx.workspaceRoot, run.runId, ctx.config);
      writeRunMarker(ctx.workspaceRoot, { ...marker, heartbeatPid });
    }
    if (!branch) {
      ctx.reporter.warn(
        'no branch found in the CI variables (set FLEET_BRANCH or --branch): the cache entries this run writes are ' +
          "shared with this token's other branch-less builds only, never with the trusted branches' cache",
      );
    }
    ctx.reporter.info(
      `run ${run.runId}${branch ? ` (branch ${branch})` : ''} is open at ${ctx.client.url}; nx commands in this job are now distributed` +
        (args['require-explicit-completion']
          ? ' (no heartbeat: run stop-all-agents when the job ends)'
          : ` (heartbeat: the run fails if this job is silent for ${Math.round(run.mainTimeoutMs / 1000)} s)`),
    );
  },
};
