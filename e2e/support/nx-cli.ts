import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolatedEnv } from './env';
import { CommandFailedError } from './errors';
import { runOk, runToEnd, type RunResult } from './processes';

export interface NxRunOptions {
  /** Environment; default isolatedEnv(workspace). */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly logFile?: string;
  readonly stdin?: string;
}

/** The workspace's Nx CLI script: `node_modules/nx/bin/nx.js`, or `dist/bin/nx.js` from Nx 24 (package.json `bin`). */
export function nxBin(workspace: string): string {
  const dir = join(workspace, 'node_modules', 'nx');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.nx ?? 'bin/nx.js');
  return join(dir, bin);
}

/** Runs the workspace's own Nx (`node node_modules/nx/bin/nx.js …`, as `npx nx` would) to its end. */
export function runNx(workspace: string, args: readonly string[], options: NxRunOptions = {}): Promise<RunResult> {
  return runToEnd(`nx ${args.join(' ')}`, process.execPath, [nxBin(workspace), ...args], {
    cwd: workspace,
    env: options.env ?? isolatedEnv(workspace),
    timeoutMs: options.timeoutMs ?? 5 * 60_000,
    logFile: options.logFile,
    stdin: options.stdin,
  });
}

/** runNx that throws CommandFailedError (with the output tail) unless Nx exits 0. */
export function runNxOk(workspace: string, args: readonly string[], options: NxRunOptions = {}): Promise<RunResult> {
  return runOk(`nx ${args.join(' ')}`, process.execPath, [nxBin(workspace), ...args], {
    cwd: workspace,
    env: options.env ?? isolatedEnv(workspace),
    timeoutMs: options.timeoutMs ?? 5 * 60_000,
    logFile: options.logFile,
    stdin: options.stdin,
  });
}

export interface GraphNode {
  readonly name: string;
  readonly root: string;
  readonly targets: readonly string[];
}

export interface ProjectGraphSummary {
  readonly nodes: Record<string, GraphNode>;
  /** project -> the projects it depends on, sorted. */
  readonly dependencies: Record<string, string[]>;
}

interface RawGraphFile {
  graph: {
    nodes: Record<string, { name: string; data: { root: string; targets?: Record<string, unknown> } }>;
    dependencies: Record<string, Array<{ source: string; target: string }>>;
  };
}

/** Parses the JSON written by `nx graph --file=graph.json` into names, roots, targets and edges. */
export function summarizeGraph(json: string): ProjectGraphSummary {
  const raw = JSON.parse(json) as RawGraphFile;
  const nodes: Record<string, GraphNode> = {};
  for (const [name, node] of Object.entries(raw.graph.nodes)) {
    nodes[name] = { name, root: node.data.root, targets: Object.keys(node.data.targets ?? {}).sort() };
  }
  const dependencies: Record<string, string[]> = {};
  for (const [name, edges] of Object.entries(raw.graph.dependencies)) {
    if (!(name in nodes)) continue; // npm: external nodes
    dependencies[name] = edges.map((edge) => edge.target).filter((target) => target in nodes).sort();
  }
  return { nodes, dependencies };
}

/** Throws CommandFailedError with the output tail unless `result` exited with `expected`: a readable failure. */
export function assertExit(result: RunResult, expected: number): void {
  if (result.code !== expected) throw new CommandFailedError(`expected exit ${expected}`, result.code, result.output);
}
