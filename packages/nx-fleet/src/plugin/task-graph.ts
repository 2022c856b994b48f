import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetError } from '../util/errors';
import type { NxTaskGraph } from '../nx/types';

/**
 * The task graph of the Nx command now starting, as Nx itself computes it: the same
 * command again with `--graph=<file>`, which writes `{ graph, tasks, taskPlans }` and
 * runs nothing. Plugin hooks see only argv, and this keeps Fleet out of Nx's argument
 * parsing. Tasks come without hashes; agents report them.
 */
export async function taskGraphOf(argv: readonly string[], workspaceRoot: string, timeoutMs = 120_000): Promise<NxTaskGraph> {
  const [node, script, ...args] = argv;
  if (!node || !script) throw new FleetError(`cannot tell which Nx command is running from argv ${JSON.stringify(argv)}`);
  const dir = await mkdtemp(join(tmpdir(), 'fleet-graph-'));
  const file = join(dir, 'graph.json');
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...args.filter((a) => !a.startsWith('--graph')), `--graph=${file}`], {
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
