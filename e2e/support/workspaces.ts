import { join } from 'node:path';
import { buildGeneratedTemplate, type Progress } from './generated-template';
import { buildHandmadeTemplate } from './handmade-template';
import { WORKSPACE_NAME, type NxVersion } from './nx-versions';
import { cachedDir, recipeHash } from './template-cache';

export { copyWorkspace, removeWorkspaceCopy } from './copy';
export { initGitRepo } from './git';
export { writeHandmadeWorkspace, defaultHandmadeProjects, A_DATA } from './handmade';
export type { ProjectSpec, TargetSpec } from './handmade';
export { RECIPES, NX_VERSIONS, LIB_COUNT, e2eNxVersions, DEFAULT_E2E_NX_VERSIONS } from './nx-versions';
export type { NxVersion, NxRecipe } from './nx-versions';

export interface TemplateOptions {
  /** Progress lines (template creation takes minutes). Default: silent. */
  readonly onProgress?: Progress;
}

const silent: Progress = () => undefined;

/** Files whose contents define the generated recipe: editing one makes a new cache entry. */
const GENERATED_RECIPE = ['generated-template.ts', 'nx-versions.ts'].map((file) => join(__dirname, file));

/**
 * The template workspace made by Nx's own generators (create-nx-workspace --preset=ts, then lib1..lib6 via
 * @nx/js:library, lib(n+1) importing lib(n)), committed to git. Built once, cached under
 * `${os.tmpdir()}/fleet-e2e-templates/<version>-<recipe-hash>/demo`. Never modify it: copyWorkspace it.
 */
export async function generatedWorkspaceTemplate(nxVersion: NxVersion, options: TemplateOptions = {}): Promise<string> {
  const progress = options.onProgress ?? silent;
  const key = `${nxVersion}-${recipeHash(GENERATED_RECIPE, [nxVersion])}`;
  const dir = await cachedDir(key, async (cacheDir) => {
    await buildGeneratedTemplate(cacheDir, nxVersion, progress);
  });
  return join(dir, WORKSPACE_NAME);
}

/**
 * The handmade template (projects a and b of nx:run-commands targets, see defaultHandmadeProjects) for
 * `nxVersion`, node_modules hard-linked from the generated template. Cached like it. Copy it before use.
 */
export async function handmadeWorkspaceTemplate(nxVersion: NxVersion, options: TemplateOptions = {}): Promise<string> {
  const generated = await generatedWorkspaceTemplate(nxVersion, options);
  return buildHandmadeTemplate(nxVersion, generated, options.onProgress ?? silent);
}

export { unsupportedHandmadeTemplate, UNSUPPORTED_NX_VERSIONS } from './unsupported-template';
export type { UnsupportedNxVersion } from './unsupported-template';
