/**
 * "The generated pipeline really works": in a workspace copy with nx-fleet installed, run
 * `nx g nx-fleet:init` and `nx g nx-fleet:ci-workflow`, commit, commit a change that touches
 * some projects, then execute the generated file's shell steps as the CI would: each agent
 * job in its own checkout (a copy of the same commit), the main job in the main copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { assertExit } from '../support/nx-cli';
import type { RunResult } from '../support/processes';
import { copyWorkspace } from '../support/workspaces';
import type { Coordinator } from '../fleet/cluster';
import { runJob, type JobResult, type PipelinePlan } from './pipeline';
import { commitAll, fleetInstalledCopy, nxGenerate, revParse } from './workspace';

export type ExecutedCi = 'github' | 'circleci' | 'azure';

export interface PipelineFacts {
  /** The SHAs an nx-set-shas step would compute. */
  base: string;
  head: string;
}

export interface PipelineRunOptions {
  ci: ExecutedCi;
  /** The generated file, relative to the workspace root. */
  file: string;
  agents: number;
  coordinator: Coordinator;
  template: string;
  /** The commit under test: edits files of some projects. */
  change: (workspace: string) => void;
  read: (doc: unknown, facts: PipelineFacts) => PipelinePlan;
  /** After the main job ends, how long the agent jobs get to end by themselves. */
  agentGraceMs?: number;
}

export interface PipelineRun {
  plan: PipelinePlan;
  generate: { init: RunResult; ciWorkflow: RunResult };
  main: JobResult;
  agents: JobResult[];
  workspaces: { main: string; agents: string[] };
  /** Agent jobs that had to be stopped because they had not ended agentGraceMs after main. */
  agentsStopped: number;
  durationMs: number;
}

/** Variables of the test machine the pipeline does not set: npm offline, so npx can only use the installed bins. */
const MACHINE_ENV = { npm_config_offline: 'true' };

export async function runGeneratedPipeline(options: PipelineRunOptions): Promise<PipelineRun> {
  const startedAt = Date.now();
  const main = await fleetInstalledCopy(options.template);
  const init = await nxGenerate(main, 'nx-fleet:init', [`--url=${options.coordinator.url}`]);
  assertExit(init, 0);
  const ciWorkflow = await nxGenerate(main, 'nx-fleet:ci-workflow', [`--ci=${options.ci}`, `--agents=${options.agents}`]);
  assertExit(ciWorkflow, 0);
  await commitAll(main, `Fleet: nx-fleet:init and a ${options.ci} pipeline`);
  options.change(main);
  const head = await commitAll(main, 'the change under test');
  const base = await revParse(main, 'HEAD~1');

  const plan = options.read(parse(readFileSync(join(main, options.file), 'utf8')), { base, head });
  // every agent job checks out the same commit: a copy of main as it is now (node_modules hard-linked)
  const agentDirs: string[] = [];
  for (let i = 0; i < plan.agents.length; i++) agentDirs.push(await copyWorkspace(main));

  const stopAgents = new AbortController();
  const agentJobs = plan.agents.map((job, i) => runJob(job, { workspace: agentDirs[i], extraEnv: MACHINE_ENV, signal: stopAgents.signal }));
  const mainJob = await runJob(plan.main, { workspace: main, extraEnv: MACHINE_ENV });
  let agentsStopped = 0;
  const grace = setTimeout(() => stopAgents.abort(), options.agentGraceMs ?? 120_000);
  const agents = await Promise.all(agentJobs);
  clearTimeout(grace);
  if (stopAgents.signal.aborted) agentsStopped = agents.filter((a) => a.steps.some((s) => s.status === 'failed' && s.code === null)).length;
  return {
    plan,
    generate: { init, ciWorkflow },
    main: mainJob,
    agents,
    workspaces: { main, agents: agentDirs },
    agentsStopped,
    durationMs: Date.now() - startedAt,
  };
}

/** The main job's step whose command contains `fragment` (start-ci-run, nx affected, stop-all-agents). */
export function stepRunning(job: JobResult, fragment: string): JobResult['steps'][number] {
  const matches = job.steps.filter((s) => s.command?.includes(fragment));
  if (matches.length !== 1) {
    throw new Error(`${job.name}: expected one step running "${fragment}", got ${matches.length}: ${job.steps.map((s) => s.command).join(' | ')}`);
  }
  return matches[0];
}

/** Task ids an agent job says it ran (the agent's "[fleet] running <task>" lines). */
export function tasksRanBy(job: JobResult): string[] {
  return [...job.output.matchAll(/^\[fleet\] running (\S+)/gm)].map((m) => m[1]);
}

/** Task ids whose Nx header the main job printed. */
export function tasksShownBy(output: string): string[] {
  return [...new Set([...output.matchAll(/> nx run (\S+)/g)].map((m) => m[1]))].sort();
}

export interface RunViewLite {
  runId: string;
  status: string;
  expectedAgents: number;
  agents: Array<{ name: string; tasksRun: number; exited: boolean }>;
  failedTasks: string[];
}

/** The coordinator's view of a run, or null when it has no such run. */
export async function fetchRun(coordinator: Coordinator, runId: string): Promise<RunViewLite | null> {
  const res = await fetch(`${coordinator.url}/v1/runs/${encodeURIComponent(runId)}`, { headers: { authorization: `Bearer ${coordinator.token}` } });
  if (res.status === 404) {
    await res.arrayBuffer();
    return null;
  }
  if (!res.ok) throw new Error(`GET run ${runId}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as RunViewLite;
}

/** One line per step: what ran, how long, how it ended (printed by the tests for the record). */
export function describeRun(run: PipelineRun): string {
  const line = (job: JobResult): string =>
    `${job.name}: ${job.steps.map((s) => `${s.name}=${s.status}${s.code !== null ? `(${s.code}, ${(s.durationMs / 1000).toFixed(1)} s)` : ''}`).join(', ')}`;
  return [`pipeline run in ${(run.durationMs / 1000).toFixed(1)} s`, line(run.main), ...run.agents.map(line)].join('\n');
}
