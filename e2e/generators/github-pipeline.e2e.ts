/**
 * The GitHub workflow that `nx g nx-fleet:ci-workflow --ci=github --agents=3` writes, run
 * for real on a workspace made by Nx's own generators (Nx 20.8.4): its `run:` steps, as
 * separate `bash -e -c` processes, with a real coordinator, three agent jobs in their own
 * checkouts and the main job in the main one.
 *
 * Stood in for by the test (nothing in the file is edited):
 *  - `uses:` steps (checkout, setup-node): the workspace copy is the checkout, the test's Node is used;
 *  - the install step (`npm ci`): not run, the copies already have node_modules (hard-linked);
 *  - nrwl/nx-set-shas: its outputs, NX_BASE = HEAD~1 and NX_HEAD = HEAD of the commit under test;
 *  - GitHub's own variables: GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_REF_NAME, CI=true, …;
 *    Fleet's run id must come from them (no step gets FLEET_RUN_ID);
 *  - `vars.FLEET_URL`, `secrets.FLEET_TOKEN`: the test coordinator's URL and token.
 */
import { randomInt } from 'node:crypto';
import { cleanupAll } from '../support/processes';
import { generatedWorkspaceTemplate } from '../support/workspaces';
import { startCoordinator, type Coordinator } from '../fleet/cluster';
import { expectPipelineWorked, touchLib4, touchLib4AndBreakLib5Test, lib } from './expectations';
import { readGithubWorkflow } from './github';
import { describeRun, runGeneratedPipeline, stepRunning, type PipelineFacts } from './pipeline-run';

jest.setTimeout(15 * 60_000);

describe('the generated GitHub workflow, run step by step (Nx 20.8.4)', () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await generatedWorkspaceTemplate('20.8.4');
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  function githubRun(change: (workspace: string) => void) {
    const runId = String(randomInt(1_000_000, 2_000_000_000));
    const read = (doc: unknown, shas: PipelineFacts) =>
      readGithubWorkflow(doc, {
        vars: { FLEET_URL: coordinator.url },
        secrets: { FLEET_TOKEN: coordinator.token },
        shas,
        runId,
        runAttempt: '1',
        branch: 'main',
        maxStepMs: 8 * 60_000,
      });
    return {
      fleetRunId: `gh-${runId}-1`,
      run: runGeneratedPipeline({ ci: 'github', file: '.github/workflows/ci.yml', agents: 3, coordinator, template, change, read }),
    };
  }

  it('distributes the affected tasks over three agents; main shows every log and gets every output', async () => {
    const { fleetRunId, run: running } = githubRun(touchLib4);
    const run = await running;
    process.stderr.write(`${describeRun(run)}\n`);

    // the steps the workflow has, in order, and what the test did with each
    expect(run.main.steps.map((s) => [s.name, s.status])).toEqual([
      ['actions/checkout@v4', 'skipped'],
      ['actions/setup-node@v4', 'skipped'],
      ['Install dependencies', 'skipped'],
      ['nrwl/nx-set-shas@v4', 'skipped'],
      ['Start the Fleet run', 'passed'],
      ['Run affected tasks', 'passed'],
      ['Stop the Fleet agents', 'passed'],
    ]);
    expect(run.main.step('Install dependencies').skipReason).toMatch(/^npm ci: /);
    expect(run.agents.map((a) => a.steps.map((s) => s.name))).toEqual(
      [1, 2, 3].map(() => ['actions/checkout@v4', 'actions/setup-node@v4', 'Install dependencies', 'Start a Fleet agent']),
    );
    expect(run.agents.map((a) => a.step('Start a Fleet agent').env.FLEET_AGENT_NAME)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    await expectPipelineWorked(run, coordinator, fleetRunId);
  });

  it('runs the stop step (if: always()) after the affected step failed, and the agents still exit 0', async () => {
    const { fleetRunId, run: running } = githubRun(touchLib4AndBreakLib5Test);
    const run = await running;
    process.stderr.write(`${describeRun(run)}\n`);

    const affected = stepRunning(run.main, 'nx affected');
    const stop = stepRunning(run.main, 'nx-fleet stop-all-agents');
    expect(affected.status).toBe('failed');
    expect(affected.output).toContain(`${lib(5)}:test failed on agent agent-`);
    // the stop step ran although a step before it failed, and says which task failed
    expect(stop.status).toBe('failed');
    expect(stop).toExitWith(1);
    expect(stop.output).toContain(`failed tasks: ${lib(5)}:test`);
    for (const job of run.agents) expect(job.ok).toBe(true);
    expect(run.agentsStopped).toBe(0);
    for (const job of run.agents) expect(job.output).toContain(`joined run ${fleetRunId}`);
  });
});
