import { join } from 'node:path';
import { fleetDir } from '../run-marker';

export interface AgentNxEnvInput {
  /** The agent's own environment. */
  readonly base: NodeJS.ProcessEnv;
  readonly workspaceRoot: string;
  /** Which of the agent's parallel slots runs the task. */
  readonly slot: number;
  /** The relay's scoped cache URL and secret for this lease. */
  readonly cacheUrl: string;
  readonly secret: string;
  readonly agentName: string;
  /** The run's branch: FLEET_BRANCH of the task, so that what it writes carries main's branch. */
  readonly branch?: string;
}

/** Where a slot keeps Nx's own state. */
export function slotStateDir(workspaceRoot: string, slot: number): string {
  return join(fleetDir(workspaceRoot), 'nx', `slot-${slot}`);
}

/**
 * The environment of one `nx run` on an agent. Each slot keeps all of Nx's per-process state
 * apart, because two Nx processes starting at once in one checkout race on it:
 * - its SQLite database and local cache: "database is locked" (seen on Nx 19.8.14);
 * - the copy of Nx's native binding (NX_NATIVE_FILE_CACHE_DIRECTORY): Nx 19.8 copies the
 *   `.node` file straight to its final name, so a second process can load a half-written
 *   copy and die of SIGBUS before printing anything (seen: 4 of 16 cold starts in pairs;
 *   Nx 20 copies to a temporary name and renames).
 * It also loads Nx's project-graph plugins in the `nx run` process itself
 * (NX_ISOLATE_PLUGINS=false) unless the agent's environment says otherwise: each task is
 * a fresh, short-lived Nx process, so starting a plugin-worker process per plugin for it
 * protects nothing and cost much of an agent's per-task overhead (docs/benchmarks.md, the
 * 200-task DAG at 3 agents: p50 2.77 s a task with isolation, 1.54 s without).
 */
export function agentNxEnv(input: AgentNxEnvInput): NodeJS.ProcessEnv {
  const state = slotStateDir(input.workspaceRoot, input.slot);
  const env: NodeJS.ProcessEnv = {
    ...input.base,
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: input.cacheUrl,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: input.secret,
    FLEET_AGENT_CACHE_URL: input.cacheUrl,
    FLEET_AGENT_CACHE_SECRET: input.secret,
    FLEET_AGENT_NAME: input.agentName,
    ...(input.branch ? { FLEET_BRANCH: input.branch } : {}),
    FLEET_DISTRIBUTE: 'false',
    // failures are stored too, so main can show their logs
    NX_CACHE_FAILURES: 'true',
    NX_TUI: 'false',
    NX_ISOLATE_PLUGINS: input.base.NX_ISOLATE_PLUGINS ?? 'false',
    NX_WORKSPACE_DATA_DIRECTORY: join(state, 'workspace-data'),
    NX_CACHE_DIRECTORY: join(state, 'cache'),
    NX_NATIVE_FILE_CACHE_DIRECTORY: join(state, 'native'),
  };
  delete env.FLEET_REPLAY_DIR;
  return env;
}
