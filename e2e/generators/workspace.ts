/**
 * Workspace copies with nx-fleet installed the way `npm i -D nx-fleet` leaves it (the
 * package and its `nx-fleet` bin), and the workspace's own `nx g` to run the generators.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isolatedEnv } from '../support/env';
import { runNx } from '../support/nx-cli';
import type { RunResult } from '../support/processes';
import { copyWorkspace } from '../support/workspaces';
import { git, linkFleet } from '../fleet/cluster';

/**
 * linkFleet links the package; `npx nx-fleet …` in a generated pipeline also needs the bin
 * link npm writes (node_modules/.bin/nx-fleet). Without it npx would look for a package of
 * that name on the registry; the pipeline steps also run with npm offline so that it cannot.
 */
export function installFleet(workspace: string): void {
  linkFleet(workspace);
  const bin = join(workspace, 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  const link = join(bin, 'nx-fleet');
  if (!existsSync(link)) symlinkSync('../nx-fleet/bin/nx-fleet.js', link);
}

export async function fleetInstalledCopy(template: string): Promise<string> {
  const workspace = await copyWorkspace(template);
  installFleet(workspace);
  return workspace;
}

/** `nx g <generator> <args>` through the workspace's own Nx CLI. */
export function nxGenerate(workspace: string, generator: string, args: string[], env?: Record<string, string>): Promise<RunResult> {
  return runNx(workspace, ['g', generator, ...args, '--no-interactive'], { env: env ?? isolatedEnv(workspace), timeoutMs: 2 * 60_000 });
}

export async function commitAll(workspace: string, message: string): Promise<string> {
  await git(workspace, ['add', '-A']);
  await git(workspace, ['commit', '-q', '-m', message]);
  return revParse(workspace, 'HEAD');
}

export async function revParse(workspace: string, rev: string): Promise<string> {
  return (await git(workspace, ['rev-parse', rev])).stdout.trim();
}

/** `git status --porcelain` of the workspace, ignored files and the test's own .home/ (isolated HOME) and .fleet-e2e/ (logs) excluded. */
export async function gitStatus(workspace: string): Promise<string> {
  return (await git(workspace, ['status', '--porcelain', '--', '.', ':!.home', ':!.fleet-e2e'])).stdout;
}
