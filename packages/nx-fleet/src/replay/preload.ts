/**
 * Loaded into every process Nx starts on main during a distributed execution
 * (NODE_OPTIONS=--require). For a task whose result came from an agent and must be shown
 * as a failure, it restores the agent's outputs, prints the agent's log and exits with
 * the agent's exit code before the executor starts: the task is never run twice.
 * Anything else (a local fallback run, a child process of a task) passes straight through.
 */
import { extractTaskArchive, readTerminalOutput } from './archive';
import { readStagedReplay, readStagedSuccess, replayTaskId } from './staging';

function replayIfStaged(): void {
  const dir = process.env.FLEET_REPLAY_DIR;
  if (!dir || process.env.FLEET_REPLAY_CHECKED === '1') return;
  // children of this process (compilers, test workers) inherit this and skip the check
  process.env.FLEET_REPLAY_CHECKED = '1';
  const taskId = replayTaskId(process.env);
  if (!taskId) return;
  const staged = readStagedReplay(dir, taskId);
  if (!staged) {
    warnIfRanOnAgent(dir, taskId);
    return;
  }
  const root = process.env.NX_WORKSPACE_ROOT ?? process.cwd();
  let log = '';
  if (staged.archive) {
    try {
      extractTaskArchive(staged.archive, root);
    } catch (error) {
      // an unsafe archive (or one node-tar would not write) restores nothing; the failure still shows
      process.stderr.write(`[fleet] error: ${taskId}: the agent's outputs were not restored: ${(error as Error).message}\n`);
    }
    try {
      log = readTerminalOutput(staged.archive) ?? '';
    } catch {
      log = '';
    }
  }
  process.stdout.write(`${staged.banner}\n${log}${log.endsWith('\n') || log === '' ? '' : '\n'}`);
  process.exit(staged.exitCode === 0 ? 1 : staged.exitCode);
}

/**
 * Nx starts a task that already succeeded on an agent only when it asked for another
 * hash than the agent computed (an input that differs between the machines). Where the
 * relay could not tell (Nx 21+ front door), this is the one place that knows the task.
 */
function warnIfRanOnAgent(dir: string, taskId: string): void {
  if (process.env.FLEET_WARN_LOCAL_RERUN !== 'true') return;
  const done = readStagedSuccess(dir, taskId);
  if (!done) return;
  process.stderr.write(
    `[fleet] warning: ${taskId}: the agent computed hash ${done.hash ?? 'unknown'} but main computed ` +
      `${process.env.NX_TASK_HASH ?? 'another'}; its inputs differ between the machines, so main runs it itself\n`,
  );
}

replayIfStaged();
