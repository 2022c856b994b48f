/**
 * The workspace and the run that the chaos tests break. Eight `nx:run-commands` build tasks
 * that sleep, so the faults land in the middle of real work:
 *
 *   base (1.5 s) ← p1 … p6 (3 s each, read base's output) ← app (0.5 s, reads every p)
 *
 * Each task prints `chaos-start <name>` when it starts and writes dist/<name>/out.txt from its
 * dependencies' outputs, so a dependency restored wrongly changes the result.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolatedEnv } from '../support/env';
import type { RunResult } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { e2eNxVersions, handmadeWorkspaceTemplate, writeHandmadeWorkspace, type ProjectSpec } from '../support/workspaces';
import type { ManagedProcess } from '../support/processes';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, waitForAgents, type Coordinator } from '../fleet/cluster';

export const P_COUNT = 6;
export const ALL_TASKS = ['app:build', 'base:build', ...Array.from({ length: P_COUNT }, (_, i) => `p${i + 1}:build`)].sort();

/** How many times each chaos scenario runs in a row (FLEET_CHAOS_REPEAT, default 1; docs/reliability.md uses 10). */
export function chaosRepeat(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FLEET_CHAOS_REPEAT ?? '1';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`FLEET_CHAOS_REPEAT must be a whole number from 1 to 100, got "${raw}"`);
  return n;
}

/** The Nx version the chaos tests run on: the newest of e2eNxVersions(). */
export function chaosNxVersion(): ReturnType<typeof e2eNxVersions>[number] {
  const versions = e2eNxVersions();
  return versions[versions.length - 1];
}

function task(name: string, seconds: number, reads: string[]): ProjectSpec['targets'][string] {
  const inputs = reads.map((r) => `$(cat dist/${r}/out.txt)`).join(',');
  return {
    command: [
      `echo chaos-start ${name}`,
      `sleep ${seconds}`,
      `mkdir -p dist/${name}`,
      `echo "${name}[${inputs}]" > dist/${name}/out.txt`,
      `echo chaos-done ${name}`,
    ].join(' && '),
    outputs: [`{workspaceRoot}/dist/${name}`],
  };
}

export function chaosProjects(): Record<string, ProjectSpec> {
  const projects: Record<string, ProjectSpec> = { base: { targets: { build: task('base', 1.5, []) } } };
  const ps = Array.from({ length: P_COUNT }, (_, i) => `p${i + 1}`);
  for (const p of ps) projects[p] = { implicitDependencies: ['base'], targets: { build: task(p, 3, ['base']) } };
  projects.app = { implicitDependencies: ps, targets: { build: task('app', 0.5, ps) } };
  return projects;
}

/**
 * Replaces the template's projects with the chaos projects (fleetWorkspaces' `prepare`).
 * `salt` goes into an input of base, so every run has hashes of its own: with one coordinator
 * for several runs, a later run would otherwise be all cache hits and break nothing.
 */
export function chaosWorkspace(salt: string): (dir: string) => void {
  return (dir) => {
    rmSync(join(dir, 'packages'), { recursive: true, force: true });
    writeHandmadeWorkspace(dir, chaosProjects());
    writeFileSync(join(dir, 'packages/base/salt.txt'), `${salt}\n`);
  };
}

export const BUILD_ALL = ['run-many', '-t', 'build', '--outputStyle=static'];

export interface ChaosBaseline {
  template: string;
  /** digestTree of dist/ after a plain local run. */
  outputs: ReturnType<typeof digestTree>;
}

/** The template and the outputs of a clean local run (the laptop case: no run, no token). */
export async function chaosBaseline(coordinator: Coordinator): Promise<ChaosBaseline> {
  const template = await handmadeWorkspaceTemplate(chaosNxVersion());
  const local = (await fleetWorkspaces(template, coordinator, 0, chaosWorkspace('baseline'))).main;
  const run: RunResult = await nx(local, isolatedEnv(local), BUILD_ALL);
  if (run.code !== 0) throw new Error(`the local baseline run failed:\n${run.output.slice(-4000)}`);
  const outputs = digestTree(join(local, 'dist'));
  if (Object.keys(outputs).length !== ALL_TASKS.length) throw new Error(`baseline wrote ${Object.keys(outputs).length} files`);
  return { template, outputs };
}

/** GET /v1/runs/:id as JSON (bounded by fetch's own time-out). */
export async function getRun(coordinator: Coordinator, runId: string): Promise<Record<string, unknown> & { status: string }> {
  const res = await fetch(`${coordinator.url}/v1/runs/${encodeURIComponent(runId)}`, {
    headers: { authorization: `Bearer ${coordinator.token}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`GET run ${runId}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown> & { status: string };
}

/** Waits (bounded) until `check` returns a value that is not undefined. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface ChaosRun {
  runId: string;
  ws: { main: string; agents: string[] };
  /** main's environment for its nx and nx-fleet commands */
  env: Record<string, string>;
  agents: ManagedProcess[];
}

/** A salted chaos workspace, start-ci-run on main, and `count` agents that have joined the run. */
export async function openChaosRun(
  coordinator: Coordinator,
  baseline: ChaosBaseline,
  label: string,
  count: number,
  options: { parallel?: number; agentEnv?: Record<string, string> } = {},
): Promise<ChaosRun> {
  const runId = newRunId(label);
  const ws = await fleetWorkspaces(baseline.template, coordinator, count, chaosWorkspace(runId));
  const env = fleetEnv(ws.main, coordinator, { runId });
  expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', String(count)])).toExitWith(0);
  const agents = ws.agents.map((dir, i) =>
    startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', String(options.parallel ?? 2)], options.agentEnv ?? {}),
  );
  await waitForAgents(coordinator, runId, count);
  return { runId, ws, env, agents };
}
