import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { baseEnv } from './env';
import { E2eError } from './errors';
import { runOk } from './processes';

const COPY_PREFIX = 'fleet-e2e-ws-';

/**
 * Copies `<from>/node_modules` to `<to>/node_modules` hard-linked (`cp -al`): folders are new, files share
 * inodes with the source, and npm-workspace symlinks (relative, e.g. node_modules/@demo/lib1 ->
 * ../../packages/lib1) resolve inside the copy. A symlinked node_modules would resolve them back into the
 * template. Needs one filesystem; falls back to a full `cp -a` otherwise.
 */
export async function linkNodeModules(fromWorkspace: string, toWorkspace: string): Promise<void> {
  const from = join(fromWorkspace, 'node_modules');
  const to = join(toWorkspace, 'node_modules');
  const env = baseEnv();
  try {
    await runOk('cp -al node_modules', 'cp', ['-al', from, to], { cwd: toWorkspace, env, timeoutMs: 5 * 60_000 });
  } catch (error) {
    if (!(error instanceof E2eError)) throw error;
    rmSync(to, { recursive: true, force: true });
    await runOk('cp -a node_modules', 'cp', ['-a', from, to], { cwd: toWorkspace, env, timeoutMs: 10 * 60_000 });
  }
}

/**
 * A fresh, independent working copy of `template` (default: `<tmp>/fleet-e2e-ws-XXXXXX/ws`): everything,
 * `.git` included, copied with `cp -a` (modes and symlinks kept); node_modules hard-linked (see
 * linkNodeModules). `dest` must not exist or be empty. Returns the copy's path.
 */
export async function copyWorkspace(template: string, dest?: string): Promise<string> {
  const target = dest ?? join(mkdtempSync(join(tmpdir(), COPY_PREFIX)), 'ws');
  mkdirSync(target, { recursive: true });
  if (readdirSync(target).length > 0) throw new E2eError('COMMAND_FAILED', `copyWorkspace: ${target} is not empty`);
  const all = readdirSync(template);
  const entries = all.filter((name) => name !== 'node_modules');
  if (entries.length > 0) {
    await runOk('cp -a workspace', 'cp', ['-a', ...entries.map((name) => join(template, name)), `${target}/`], {
      cwd: target,
      env: baseEnv(),
      timeoutMs: 5 * 60_000,
    });
  }
  if (all.includes('node_modules')) await linkNodeModules(template, target);
  return target;
}

/** Deletes a copy made by copyWorkspace (and its fleet-e2e-ws-XXXXXX parent when it made one). */
export function removeWorkspaceCopy(workspace: string): void {
  const parent = dirname(workspace);
  if (basename(parent).startsWith(COPY_PREFIX) && basename(workspace) === 'ws') rmSync(parent, { recursive: true, force: true });
  else rmSync(workspace, { recursive: true, force: true });
}
