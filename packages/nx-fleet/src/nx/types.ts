/** The parts of Nx's task objects that Fleet reads (stable from Nx 19 to 24). */
export interface NxTask {
  id: string;
  target: { project: string; target: string; configuration?: string };
  hash?: string;
  hashDetails?: unknown;
  cache?: boolean;
  outputs?: string[];
  overrides?: Record<string, unknown>;
  projectRoot?: string;
}

/** Edges are strings up to Nx 23 and objects `{ id }` in Nx 24. */
export type NxEdge = string | { id: string };

export interface NxTaskGraph {
  roots: string[];
  tasks: Record<string, NxTask>;
  dependencies: Record<string, NxEdge[]>;
  continuousDependencies?: Record<string, NxEdge[]>;
}

export interface NxHasher {
  hashTask(task: NxTask, taskGraph?: NxTaskGraph, env?: NodeJS.ProcessEnv): Promise<{ value: string; details?: unknown }>;
  hashTasks?(tasks: NxTask[], taskGraph?: NxTaskGraph, env?: NodeJS.ProcessEnv): Promise<Array<{ value: string; details?: unknown }>>;
}

export interface NxRunnerContext {
  target?: string;
  initiatingProject?: string | null;
  projectGraph: unknown;
  nxJson: Record<string, unknown>;
  nxArgs: Record<string, unknown>;
  taskGraph: NxTaskGraph;
  hasher: NxHasher;
  daemon?: unknown;
}

export interface NxRunnerOptions {
  parallel?: number;
  cacheDirectory?: string;
  cacheableOperations?: string[];
  lifeCycle: unknown;
  remoteCache?: unknown;
  skipNxCache?: boolean;
  [key: string]: unknown;
}

export type NxTasksRunner = (tasks: NxTask[], options: NxRunnerOptions, context: NxRunnerContext) => unknown;

export function edgeId(edge: NxEdge): string {
  return typeof edge === 'string' ? edge : edge.id;
}
