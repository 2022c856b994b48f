/**
 * The CircleCI config that `nx g nx-fleet:ci-workflow --ci=circleci --agents=3` writes, run
 * for real on a workspace made by Nx's own generators (Nx 20.8.4): the `run:` commands of
 * its main job and of its agent job (one per matrix value), as separate
 * `/bin/bash -eo pipefail -c` processes (CircleCI's default shell), `timeout Nm` included,
 * with a real coordinator, three agents in their own checkouts and main in the main one.
 *
 * Stood in for by the test (nothing in the file is edited):
 *  - `checkout`, `restore_cache`, `save_cache`: the workspace copy;
 *  - the install command (`npm ci`): not run, the copies already have node_modules (hard-linked);
 *  - the nx/set-shas orb: its outputs, NX_BASE = HEAD~1 and NX_HEAD = HEAD of the commit under test;
 *  - CircleCI's variables: CIRCLE_WORKFLOW_ID, shared by every job of the workflow (Fleet's
 *    run id must come from it: no step gets FLEET_RUN_ID), CIRCLE_BRANCH, CI=true, …;
 *  - the project variables FLEET_URL and FLEET_TOKEN: the test coordinator's.
 */
import { randomUUID } from 'node:crypto';
import { cleanupAll } from '../support/processes';
import { generatedWorkspaceTemplate } from '../support/workspaces';
import { startCoordinator, type Coordinator } from '../fleet/cluster';
import { readCircleConfig } from './circleci';
import { expectPipelineWorked, touchLib4 } from './expectations';
import { describeRun, runGeneratedPipeline, type PipelineFacts } from './pipeline-run';

jest.setTimeout(15 * 60_000);

describe('the generated CircleCI config, run step by step (Nx 20.8.4)', () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await generatedWorkspaceTemplate('20.8.4');
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('distributes the affected tasks over three agents; main shows every log and gets every output', async () => {
    const workflowId = randomUUID();
    const read = (doc: unknown, shas: PipelineFacts) =>
      readCircleConfig(doc, {
        projectEnv: { FLEET_URL: coordinator.url, FLEET_TOKEN: coordinator.token },
        shas,
        workflowId,
        branch: 'main',
        maxStepMs: 8 * 60_000,
      });
    const run = await runGeneratedPipeline({ ci: 'circleci', file: '.circleci/config.yml', agents: 3, coordinator, template, change: touchLib4, read });
    process.stderr.write(`${describeRun(run)}\n`);

    expect(run.main.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkout', 'skipped'],
      ['restore_cache', 'skipped'],
      ['Install dependencies', 'skipped'],
      ['save_cache', 'skipped'],
      ['nx/set-shas', 'skipped'],
      ['Start the Fleet run', 'passed'],
      ['Run affected tasks', 'passed'],
      ['Stop the Fleet agents', 'passed'],
    ]);
    expect(run.main.step('Run affected tasks').command).toMatch(/^timeout \d+m npx --no nx affected/);
    expect(run.agents.map((a) => a.step('Start a Fleet agent').env.FLEET_AGENT_NAME)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    await expectPipelineWorked(run, coordinator, `circle-${workflowId}`);
  });
});
