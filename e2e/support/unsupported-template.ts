import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkNodeModules } from './copy';
import { baseEnv } from './env';
import { E2eError } from './errors';
import { cleanLeftovers, type Progress } from './generated-template';
import { initGitRepo } from './git';
import { defaultHandmadeProjects, writeHandmadeWorkspace } from './handmade';
import { runNxOk } from './nx-cli';
import { runOk } from './processes';
import { cachedDir, recipeHash } from './template-cache';

/** Nx versions Fleet refuses; the e2e tests check the refusal on a real install. */
export const UNSUPPORTED_NX_VERSIONS = ['18.3.5'] as const;
export type UnsupportedNxVersion = (typeof UNSUPPORTED_NX_VERSIONS)[number];

const RECIPE = ['unsupported-template.ts', 'handmade.ts'].map((file) => join(__dirname, file));

/**
 * The handmade workspace (defaultHandmadeProjects) on an Nx version Fleet does not support: `npm install
 * nx@<version>` (exact, npm registry) into `<templatesRoot>/handmade-<version>-<hash>/nx`, node_modules
 * hard-linked into `…/ws`, committed to git; `nx run-many -t build` is checked once. Copy it before use.
 */
export async function unsupportedHandmadeTemplate(nxVersion: UnsupportedNxVersion, progress: Progress = () => undefined): Promise<string> {
  const key = `handmade-${nxVersion}-${recipeHash(RECIPE, [nxVersion])}`;
  const dir = await cachedDir(key, async (cacheDir) => {
    const startedAt = Date.now();
    const tag = `[fleet-e2e ${nxVersion}]`;
    const logFile = join(cacheDir, 'create.log');
    const install = join(cacheDir, 'nx');
    progress(`${tag} npm install nx@${nxVersion} …`);
    writeHandmadeWorkspace(install, {}, { nxVersion });
    await runOk(`npm install nx@${nxVersion}`, 'npm', ['install', '--save-dev', '--save-exact', '--prefer-offline', `nx@${nxVersion}`], {
      cwd: install,
      env: baseEnv({ HOME: join(cacheDir, 'home') }),
      logFile,
      timeoutMs: 5 * 60_000,
    });
    const workspace = join(cacheDir, 'ws');
    writeHandmadeWorkspace(workspace, defaultHandmadeProjects(), { nxVersion });
    await linkNodeModules(install, workspace);
    const installed = (JSON.parse(readFileSync(join(workspace, 'node_modules/nx/package.json'), 'utf8')) as { version: string }).version;
    if (installed !== nxVersion) throw new E2eError('TEMPLATE_FAILED', `node_modules/nx is ${installed}, not ${nxVersion}`);
    await initGitRepo(workspace);
    await runNxOk(workspace, ['run-many', '-t', 'build'], { timeoutMs: 5 * 60_000, logFile });
    await runNxOk(workspace, ['reset'], { timeoutMs: 2 * 60_000, logFile });
    cleanLeftovers(workspace, ['dist', '.nx', '.home', '.markers']);
    writeFileSync(join(cacheDir, 'timings.json'), `${JSON.stringify({ total: Math.round((Date.now() - startedAt) / 100) / 10 }, null, 2)}\n`);
    progress(`${tag} handmade template done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  });
  return join(dir, 'ws');
}
