import { join } from 'node:path';
import { linkNodeModules } from './copy';
import { cleanLeftovers, type Progress } from './generated-template';
import { initGitRepo } from './git';
import { defaultHandmadeProjects, writeHandmadeWorkspace } from './handmade';
import { runNxOk } from './nx-cli';
import type { NxVersion } from './nx-versions';
import { cachedDir, recipeHash } from './template-cache';

const HANDMADE_RECIPE = ['handmade.ts', 'handmade-template.ts', 'generated-template.ts', 'nx-versions.ts'].map((file) =>
  join(__dirname, file),
);

/**
 * A small template of nx:run-commands projects a and b (see defaultHandmadeProjects), node_modules hard-linked
 * from `generatedTemplate` (same Nx version), committed to git; `nx run-many -t build` is checked once.
 * Cached under `<templatesRoot>/handmade-<version>-<hash>/ws`.
 */
export async function buildHandmadeTemplate(nxVersion: NxVersion, generatedTemplate: string, progress: Progress): Promise<string> {
  const key = `handmade-${nxVersion}-${recipeHash(HANDMADE_RECIPE, [nxVersion])}`;
  const dir = await cachedDir(key, async (cacheDir) => {
    const startedAt = Date.now();
    const workspace = join(cacheDir, 'ws');
    progress(`[fleet-e2e ${nxVersion}] handmade template …`);
    writeHandmadeWorkspace(workspace, defaultHandmadeProjects(), { nxVersion });
    await linkNodeModules(generatedTemplate, workspace);
    await initGitRepo(workspace);
    const logFile = join(cacheDir, 'create.log');
    await runNxOk(workspace, ['run-many', '-t', 'build'], { timeoutMs: 5 * 60_000, logFile });
    await runNxOk(workspace, ['reset'], { timeoutMs: 2 * 60_000, logFile });
    cleanLeftovers(workspace, ['dist', '.nx', '.home', '.markers']);
    progress(`[fleet-e2e ${nxVersion}] handmade template done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  });
  return join(dir, 'ws');
}
