/**
 * Fleet's own processes for end-to-end tests: a coordinator on a free port, agents in
 * their own checkouts, and the main job's three commands, all through the real CLI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { isolatedEnv } from '../support/env';
import { nxBin } from '../support/nx-cli';
import { runOk, runToEnd, startProcess, waitForHttp, type ManagedProcess, type ProcessExit, type RunResult } from '../support/processes';

export const REPO_ROOT = resolve(__dirname, '../..');
export const CLI = join(REPO_ROOT, 'packages/nx-fleet/bin/nx-fleet.js');

export interface Coordinator {
  url: string;
  token: string;
  dataDir: string;
  process: ManagedProcess;
}

/** A coordinator on a free port (or `port`, to restart one where its clients expect it). */
export async function startCoordinator(
  options: { dataDir?: string; token?: string; port?: number; extraArgs?: string[] } = {},
): Promise<Coordinator> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'fleet-e2e-coordinator-'));
  const token = options.token ?? randomBytes(16).toString('hex');
  const env = isolatedEnv(dataDir, { FLEET_TOKEN: token });
  const proc = startProcess('coordinator', process.execPath, [CLI, 'serve', '--port', String(options.port ?? 0), '--data-dir', dataDir, ...(options.extraArgs ?? [])], {
    cwd: dataDir,
    env,
    logFile: join(dataDir, `coordinator-${Date.now()}.log`),
  });
  const out = await proc.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, { timeoutMs: 30_000 });
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
  await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, process: proc });
  return { url, token, dataDir, process: proc };
}

/** Makes nx-fleet (this repository's build) installable in a test workspace, as `npm i nx-fleet` would. */
export function linkFleet(workspace: string): void {
  const link = join(workspace, 'node_modules', 'nx-fleet');
  if (!existsSync(link)) symlinkSync(join(REPO_ROOT, 'packages/nx-fleet'), link, 'dir');
  // what npm's bin linking does, so `npx nx-fleet` resolves locally
  const bin = join(workspace, 'node_modules', '.bin', 'nx-fleet');
  if (!existsSync(bin)) symlinkSync('../nx-fleet/bin/nx-fleet.js', bin);
}

/**
 * Configures nx-fleet the way `nx g nx-fleet:init` does for the workspace's Nx (the tasks
 * runner on 19–20, the plugin on 21+), and commits it.
 */
export async function configureRunner(workspace: string, url: string): Promise<void> {
  const file = join(workspace, 'nx.json');
  const nxJson = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (nxMajor(workspace) >= 21) {
    const plugins = ((nxJson.plugins ?? []) as unknown[]).filter((p) => (typeof p === 'string' ? p : (p as { plugin?: string }).plugin) !== 'nx-fleet');
    nxJson.plugins = [...plugins, { plugin: 'nx-fleet', options: { url } }];
  } else {
    const runners = (nxJson.tasksRunnerOptions ?? {}) as Record<string, { runner?: string; options?: Record<string, unknown> }>;
    runners.default = { ...(runners.default ?? {}), runner: 'nx-fleet', options: { ...(runners.default?.options ?? {}), url } };
    nxJson.tasksRunnerOptions = runners;
  }
  writeFileSync(file, `${JSON.stringify(nxJson, null, 2)}\n`);
  await git(workspace, ['add', '-A']);
  await git(workspace, ['commit', '-q', '-m', 'use nx-fleet', '--allow-empty']);
}

export function nxMajor(workspace: string): number {
  const pkg = JSON.parse(readFileSync(join(workspace, 'node_modules/nx/package.json'), 'utf8')) as { version: string };
  return Number(pkg.version.split('.')[0]);
}


export async function git(workspace: string, args: string[]): Promise<RunResult> {
  return runOk('git', 'git', ['-c', 'user.name=Fleet E2E', '-c', 'user.email=e2e@fleet.invalid', ...args], {
    cwd: workspace,
    env: isolatedEnv(workspace),
    timeoutMs: 60_000,
  });
}

/** A main workspace and `agents` agent checkouts, all copies of `template`, configured for `coordinator`. */
export async function fleetWorkspaces(
  template: string,
  coordinator: Coordinator,
  agents: number,
  prepare?: (workspace: string) => void,
): Promise<{ main: string; agents: string[] }> {
  const main = await copyWorkspace(template);
  linkFleet(main);
  prepare?.(main);
  await configureRunner(main, coordinator.url);
  const copies: string[] = [];
  for (let i = 0; i < agents; i++) copies.push(await copyWorkspace(main));
  return { main, agents: copies };
}

export interface FleetEnvOptions {
  runId: string;
  extra?: Record<string, string | undefined>;
}

export function fleetEnv(workspace: string, coordinator: Coordinator, options: FleetEnvOptions): Record<string, string> {
  // a build of the trusted main branch unless a test says otherwise: artifacts go to blobs/default/
  return isolatedEnv(workspace, {
    FLEET_TOKEN: coordinator.token,
    FLEET_RUN_ID: options.runId,
    FLEET_BRANCH: 'main',
    ...options.extra,
  });
}

export function startAgent(
  workspace: string,
  coordinator: Coordinator,
  runId: string,
  name: string,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): ManagedProcess {
  return startProcess(name, process.execPath, [CLI, 'start-agent', '--name', name, ...args], {
    cwd: workspace,
    env: fleetEnv(workspace, coordinator, { runId, extra: { FLEET_MARKER_ID: name, ...extraEnv } }),
    logFile: join(workspace, '.fleet-e2e', `${name}.log`),
  });
}

export function fleetCli(workspace: string, env: Record<string, string>, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return runToEnd(`nx-fleet ${args[0]}`, process.execPath, [CLI, ...args], { cwd: workspace, env, timeoutMs });
}

export function nx(workspace: string, env: Record<string, string>, args: string[], timeoutMs = 10 * 60_000): Promise<RunResult> {
  return runToEnd(`nx ${args[0]}`, process.execPath, [nxBin(workspace), ...args], {
    cwd: workspace,
    env,
    timeoutMs,
  });
}

/** Polls the run until `count` agents have joined (bounded). */
export async function waitForAgents(coordinator: Coordinator, runId: string, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 200 && Date.now() < deadline; i++) {
    const res = await fetch(`${coordinator.url}/v1/runs/${encodeURIComponent(runId)}`, {
      headers: { authorization: `Bearer ${coordinator.token}` },
    });
    if (res.ok) {
      const run = (await res.json()) as { agents: unknown[] };
      if (run.agents.length >= count) return;
    } else await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${count} agents did not join run ${runId} within ${timeoutMs} ms`);
}

/** How many tasks an agent says it ran (its "[fleet] running <task>" lines). */
export function tasksRunBy(agent: ManagedProcess): string[] {
  return [...agent.output.matchAll(/^\[fleet\] running (\S+)/gm)].map((m) => m[1]);
}

export function newRunId(label: string): string {
  return `e2e-${label}-${Date.now()}-${randomBytes(3).toString('hex')}`;
}

/** On Nx 23+ successful tasks print their log only with --outputStyle=static (19.8–22 print `> nx run <task>` and its log by default). */
export const logFlags = (version: string): string[] => (Number(version.split('.')[0]) >= 23 ? ['--outputStyle=static'] : []);

export interface DistributedOptions {
  agents?: number;
  agentArgs?: string[];
  startFlags?: string[];
  prepare?: (workspace: string) => void;
  /** Extra environment of main's commands (FLEET_URL to go through a proxy, …). */
  mainEnv?: Record<string, string | undefined>;
  /** Extra environment of every agent. */
  agentEnv?: Record<string, string>;
  /** Run id; default a new one. */
  runId?: string;
  /** Reuse workspaces made before (a second run in the same checkouts). */
  workspaces?: { main: string; agents: string[] };
  /** Called once the workspaces exist, before any agent starts. */
  beforeStart?: (ws: { main: string; agents: string[] }) => Promise<void>;
  nxTimeoutMs?: number;
  /** The agents must leave on their own (before stop-all-agents) within this long: `leftOnTheirOwn` says which did. */
  agentsLeaveWithinMs?: number;
}

export interface DistributedRun {
  ws: { main: string; agents: string[] };
  runId: string;
  agents: ManagedProcess[];
  main: RunResult;
  stop: RunResult;
  exits: ProcessExit[];
  /** From the start of stop-all-agents to the last agent's exit. */
  agentsExitedAfterMs: number;
  /** With agentsLeaveWithinMs: for each agent, whether it exited within that time after main's nx command. */
  leftOnTheirOwn?: boolean[];
}

/** start-ci-run, agents, `nx <nxArgs>`, stop-all-agents; waits (bounded) for the agents to exit. */
export async function distributedRun(
  coordinator: Coordinator,
  template: string,
  version: string,
  nxArgs: string[],
  options: DistributedOptions = {},
): Promise<DistributedRun> {
  const count = options.agents ?? 2;
  const runId = options.runId ?? newRunId(`fc-${version}`);
  const ws = options.workspaces ?? (await fleetWorkspaces(template, coordinator, count, options.prepare));
  await options.beforeStart?.(ws);
  const agents = ws.agents.map((dir, i) =>
    startAgent(dir, coordinator, runId, `agent-${i + 1}`, options.agentArgs ?? ['--parallel', '2'], options.agentEnv),
  );
  const env = fleetEnv(ws.main, coordinator, { runId, extra: options.mainEnv });
  const start = await fleetCli(ws.main, env, ['start-ci-run', '--agents', String(count), ...(options.startFlags ?? [])]);
  expect(start).toExitWith(0);
  await waitForAgents(coordinator, runId, count);
  const main = await nx(ws.main, env, [...nxArgs, ...logFlags(version)], options.nxTimeoutMs);
  const leftOnTheirOwn = options.agentsLeaveWithinMs === undefined ? undefined : await exitedWithin(agents, options.agentsLeaveWithinMs);
  const stopStartedAt = Date.now();
  const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
  const exits = await within(Promise.all(agents.map((a) => a.exited)), 60_000, 'agents to exit after stop-all-agents');
  return { ws, runId, agents, main, stop, exits, agentsExitedAfterMs: Date.now() - stopStartedAt, leftOnTheirOwn };
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** For each process: whether it exited within `ms` (a bounded wait). */
export async function exitedWithin(procs: readonly { exited: Promise<unknown> }[], ms: number): Promise<boolean[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcomes = await Promise.all(procs.map((p) => Promise.race([p.exited.then(() => 'exited' as const), late])));
  clearTimeout(timer);
  return outcomes.map((o) => o === 'exited');
}
