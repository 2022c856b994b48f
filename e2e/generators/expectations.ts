/**
 * What "the generated pipeline really works" means, the same for every provider: the
 * checks of the "Fleet end to end" issue applied to a pipeline run by its own steps.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coordinator } from '../fleet/cluster';
import { fetchRun, stepRunning, tasksRanBy, tasksShownBy, type PipelineRun } from './pipeline-run';

/** The generated workspace's libraries: lib(N) imports lib(N-1). */
export const lib = (n: number): string => `@demo/lib${n}`;
export const MARK = 'changed in the commit under test';

/** The change under test: a comment in lib4, so lib4, lib5 and lib6 are affected. */
export function touchLib4(workspace: string): void {
  const file = join(workspace, 'packages/lib4/src/lib/lib4.ts');
  writeText(file, `${readFileSync(file, 'utf8')}// ${MARK}\n`);
}

/** …and lib5's test expects the wrong string: lib5:test fails. */
export function touchLib4AndBreakLib5Test(workspace: string): void {
  touchLib4(workspace);
  const file = join(workspace, 'packages/lib5/src/lib/lib5.spec.ts');
  writeText(file, readFileSync(file, 'utf8').replace("toEqual('lib5(", "toEqual('not-lib5("));
}

function writeText(file: string, text: string): void {
  writeFileSync(file, text);
}

export const AFFECTED = [4, 5, 6].map(lib);
export const NOT_AFFECTED = [1, 2, 3].map(lib);
export const TARGETS = ['lint', 'test', 'build'];

/** Every check of a successful distributed pipeline run; `runId` is what the provider's variables give. */
export async function expectPipelineWorked(run: PipelineRun, coordinator: Coordinator, runId: string): Promise<void> {
  const start = stepRunning(run.main, 'nx-fleet start-ci-run');
  const affected = stepRunning(run.main, 'nx affected');
  const stop = stepRunning(run.main, 'nx-fleet stop-all-agents');
  expect(start).toExitWith(0);
  expect(affected).toExitWith(0);
  expect(stop).toExitWith(0);
  expect(run.main.ok).toBe(true);

  // the run id came from the provider's variables: no step was given FLEET_RUN_ID
  for (const job of [run.main, ...run.agents]) for (const step of job.steps) expect(step.env.FLEET_RUN_ID).toBeUndefined();
  const view = await fetchRun(coordinator, runId);
  expect(view).not.toBeNull();
  expect(view!.status).toBe('completed');
  expect(view!.expectedAgents).toBe(run.agents.length);
  expect(view!.failedTasks).toEqual([]);
  expect(view!.agents.map((a) => a.name).sort()).toEqual(run.agents.map((_, i) => `agent-${i + 1}`));
  for (const job of run.agents) expect(job.output).toContain(`joined run ${runId}`);

  // each affected task's log is in the affected step's output, and only affected projects ran
  const shown = tasksShownBy(affected.output);
  for (const project of AFFECTED) for (const target of TARGETS) expect(shown).toContain(`${project}:${target}`);
  for (const project of NOT_AFFECTED) {
    expect(shown).not.toContain(`${project}:lint`);
    expect(shown).not.toContain(`${project}:test`);
  }
  expect((affected.output.match(/Test Suites: .*passed/g) ?? []).length).toBeGreaterThanOrEqual(AFFECTED.length);
  expect(affected.output).toMatch(/Successfully ran targets lint, test, build for 3 projects/);
  // nothing ran on main: Nx read every task from the cache the agents filled
  const cached = /read the output from the cache instead of running the command for (\d+) out of (\d+) tasks/.exec(affected.output);
  expect(cached).not.toBeNull();
  expect(cached![1]).toBe(cached![2]);

  // the agents ran exactly the tasks main shows, at least two of them took part, all exited 0
  for (const job of run.agents) {
    expect(job.ok).toBe(true);
    expect(job.steps.filter((s) => s.status === 'passed').length).toBeGreaterThanOrEqual(1);
  }
  expect(run.agentsStopped).toBe(0);
  const perAgent = run.agents.map(tasksRanBy);
  expect(perAgent.filter((ran) => ran.length > 0).length).toBeGreaterThanOrEqual(2);
  expect(perAgent.flat().sort()).toEqual(shown);

  // the outputs are on main, built from the commit under test
  for (const n of [4, 5, 6]) {
    const built = join(run.workspaces.main, `packages/lib${n}/dist/lib/lib${n}.js`);
    expect(existsSync(built)).toBe(true);
  }
  expect(readFileSync(join(run.workspaces.main, 'packages/lib4/dist/lib/lib4.js'), 'utf8')).toContain(MARK);
}
