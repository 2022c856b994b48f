import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv } from './env';
import { runOk } from './processes';

export const GIT_NAME = 'Fleet E2E';
export const GIT_EMAIL = 'fleet-e2e@example.invalid';

/** Initialises a git repo (branch main) with Fleet's e2e identity in its local config and commits everything. */
export async function initGitRepo(workspace: string, message = 'initial'): Promise<void> {
  const home = join(workspace, '.home');
  mkdirSync(home, { recursive: true });
  const env = baseEnv({ HOME: home, GIT_CONFIG_NOSYSTEM: '1' });
  const git = (args: string[]): Promise<unknown> => runOk(`git ${args[0]}`, 'git', args, { cwd: workspace, env, timeoutMs: 60_000 });
  await git(['init', '-q', '-b', 'main']);
  await git(['config', 'user.name', GIT_NAME]);
  await git(['config', 'user.email', GIT_EMAIL]);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', message]);
}
