import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetError } from '../util/errors';
import type { NxTaskGraph } from '../nx/types';

/**
 * The arguments (after `node`) of the command that writes the task graph of the command
 * `argv` to `file`: `argv` without its own `--graph` (`--graph`, `--graph=<v>`, and
 * `--graph <v>`, where Nx's string option takes the next argument unless it is a flag),
 * plus `--graph=<file>`. Both before a `--`: what follows it is the task's, not Nx's.
 */
export function graphCommandArgs(argv: readonly string[], file: string): string[] {
  const [node, script, ...args] = argv;
  if (!node || !script) throw new FleetError(`cannot tell which Nx command is running from argv ${JSON.stringify(argv)}`);
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  const passed = end === -1 ? [] : args.slice(end);
  const kept: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const arg = own[i] as string;
    if (arg.startsWith('--graph=')) continue;
    if (arg === '--graph') {
      const next = own[i + 1];
      if (next !== undefined && !next.startsWith('-')) i++; // its value
      continue;
    }
    kept.push(arg);
  }
  return [script, ...kept, `--graph=${file}`, ...passed];
}

/**
 * The task graph of the Nx command now starting, as Nx itself computes it: the same
 * command again with `--graph=<file>`, which writes `{ graph, tasks, taskPlans }` and
 * runs nothing. Plugin hooks see only argv, and this keeps Fleet out of Nx's argument
 * parsing. Tasks come without hashes; agents report them.
 */
export async function taskGraphOf(argv: readonly string[], workspaceRoot: string, timeoutMs = 120_000): Promise<NxTaskGraph> {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-graph-'));
  const file = join(dir, 'graph.json');
  try {
    const args = graphCommandArgs(argv, file);
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: workspaceRoot,
        env: { ...process.env, FLEET_DISTRIBUTE: 'false', NX_TUI: 'false' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new FleetError(`could not compute the task graph (nx exited ${code}): ${out.slice(-2000)}`));
      });
    });
    let parsed: { tasks?: NxTaskGraph };
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as { tasks?: NxTaskGraph };
    } catch (error) {
      throw new FleetError(`Nx wrote no task graph to ${file}: ${(error as Error).message}; it said: ${output.slice(-1000)}`);
    }
    const graph = parsed.tasks;
    if (!graph || typeof graph.tasks !== 'object') throw new FleetError(`the task graph Nx wrote has no tasks: ${file}`);
    return { roots: graph.roots ?? [], tasks: graph.tasks, dependencies: graph.dependencies ?? {}, continuousDependencies: graph.continuousDependencies };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
