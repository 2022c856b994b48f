/**
 * The Azure pipeline that `nx g nx-fleet:ci-workflow --ci=azure --agents=3` writes, run for
 * real on a workspace made by Nx's own generators (Nx 20.8.4): its `script:` / `bash:` steps
 * as separate `bash --noprofile --norc -c` processes (how an Azure agent on Linux runs them),
 * with a real coordinator, three agent jobs (strategy.parallel) in their own checkouts and
 * the main job in the main one.
 *
 * Stood in for by the test (nothing in the file is edited):
 *  - `checkout:` and `task:` steps (NodeTool, Cache@2): the workspace copy, the test's Node;
 *  - the install script (`npm ci`): not run, the copies already have node_modules (hard-linked);
 *  - Azure's variables: Build.BuildId (Fleet's run id must come from it: no step gets
 *    FLEET_RUN_ID), Build.Reason = IndividualCI, System.JobPositionInPhase = 1..3, …;
 *  - the pipeline variables FLEET_URL (plain) and FLEET_TOKEN (secret): the test coordinator's.
 * The step that computes NX_BASE / NX_HEAD is the file's own, run for real: its
 * `##vso[task.setvariable]` lines set the variables of the later steps.
 */
import { randomInt } from 'node:crypto';
import { cleanupAll } from '../support/processes';
import { generatedWorkspaceTemplate } from '../support/workspaces';
import { startCoordinator, type Coordinator } from '../fleet/cluster';
import { readAzurePipeline } from './azure';
import { expectPipelineWorked, touchLib4 } from './expectations';
import { describeRun, runGeneratedPipeline, type PipelineFacts } from './pipeline-run';
import { revParse } from './workspace';

jest.setTimeout(15 * 60_000);

describe('the generated Azure pipeline, run step by step (Nx 20.8.4)', () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await generatedWorkspaceTemplate('20.8.4');
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('distributes the affected tasks over three agents; main shows every log and gets every output', async () => {
    const buildId = String(randomInt(1_000_000, 2_000_000_000));
    const read = (doc: unknown, facts: PipelineFacts) =>
      readAzurePipeline(doc, {
        variables: { FLEET_URL: coordinator.url },
        secrets: { FLEET_TOKEN: coordinator.token },
        buildId,
        branch: 'main',
        head: facts.head,
        maxStepMs: 8 * 60_000,
      });
    const run = await runGeneratedPipeline({ ci: 'azure', file: 'azure-pipelines.yml', agents: 3, coordinator, template, change: touchLib4, read });
    process.stderr.write(`${describeRun(run)}\n`);

    expect(run.main.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkout: self', 'skipped'],
      ['Use Node 20', 'skipped'],
      ['Keep the npm cache in the pipeline workspace', 'passed'],
      ['Cache npm downloads', 'skipped'],
      ['Install dependencies', 'skipped'],
      ['Set the affected base and head', 'passed'],
      ['Start the Fleet run', 'passed'],
      ['Run affected tasks', 'passed'],
      ['Stop the Fleet agents', 'passed'],
    ]);
    // the file's own base/head step gave the later steps the commit before and the commit under test
    const affected = run.main.step('Run affected tasks');
    expect(affected.env.NX_BASE).toBe(await revParse(run.workspaces.main, 'HEAD~1'));
    expect(affected.env.NX_HEAD).toBe(await revParse(run.workspaces.main, 'HEAD'));
    // the secret reached only the steps that map it
    expect(run.main.step('Set the affected base and head').env.FLEET_TOKEN).toBeUndefined();
    expect(affected.env.FLEET_TOKEN).toBe(coordinator.token);
    expect(run.agents.map((a) => a.step('Start a Fleet agent').env.FLEET_AGENT_NAME)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    await expectPipelineWorked(run, coordinator, `azure-${buildId}`);
  });
});
