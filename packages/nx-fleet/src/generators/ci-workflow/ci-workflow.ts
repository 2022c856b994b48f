import { formatFiles, generateFiles, logger, readJson, writeJson, type Tree } from '@nx/devkit';
import { join } from 'node:path';
import { addToGitignore } from '../utils/gitignore';
import { CiWorkflowOptionsError, normalizeOptions, type NormalizedCiWorkflowOptions } from './normalize-options';
import type { CiWorkflowGeneratorSchema } from './schema';

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
function q(value: string | number): string {
  return JSON.stringify(String(value));
}

/** The `default` named input Nx assumes when nx.json defines none. */
export const NX_IMPLICIT_DEFAULT_INPUT = '{projectRoot}/**/*';

interface NxJsonNamedInputs {
  namedInputs?: Record<string, unknown>;
}

/**
 * Adds the pipeline file to `namedInputs.sharedGlobals` (once) and makes `default` include it,
 * as Nx's generator does. A workspace without `default` has Nx's implicit one (every file of
 * the project, NX_IMPLICIT_DEFAULT_INPUT): the one written keeps it, or project files would
 * stop being inputs (and tasks would hit the cache after their sources changed).
 */
export function addPipelineToSharedGlobals(tree: Tree, filePath: string): void {
  if (!tree.exists('nx.json')) return;
  const nxJson = readJson<NxJsonNamedInputs>(tree, 'nx.json');
  const before = JSON.stringify(nxJson);
  const input = `{workspaceRoot}/${filePath}`;
  const namedInputs = (nxJson.namedInputs ??= {});
  const shared = Array.isArray(namedInputs['sharedGlobals']) ? (namedInputs['sharedGlobals'] as unknown[]) : [];
  if (!shared.includes(input)) shared.push(input);
  namedInputs['sharedGlobals'] = shared;
  const def = namedInputs['default'];
  if (def === undefined) namedInputs['default'] = [NX_IMPLICIT_DEFAULT_INPUT, 'sharedGlobals'];
  else if (Array.isArray(def) && !def.includes('sharedGlobals')) def.push('sharedGlobals');
  if (JSON.stringify(nxJson) !== before) writeJson(tree, 'nx.json', nxJson);
}

/** `nx g nx-fleet:ci-workflow --ci=<provider>`: normalizeOptions -> generateFiles -> formatFiles. */
export async function ciWorkflowGenerator(tree: Tree, schema: CiWorkflowGeneratorSchema): Promise<void> {
  const options: NormalizedCiWorkflowOptions = normalizeOptions(tree, schema);
  if (tree.exists(options.filePath) && !options.overwrite) {
    throw new CiWorkflowOptionsError(`${options.filePath} already exists. Pass --overwrite to replace it.`);
  }
  if (tree.exists(options.filePath)) tree.delete(options.filePath);
  if (!options.pm.lockfile) {
    logger.warn(`No lockfile found (package-lock.json, yarn.lock or pnpm-lock.yaml): "${options.pm.install}" in CI needs one.`);
  }
  generateFiles(tree, join(__dirname, 'files', options.ci), '', { ...options, q, tmpl: '' });
  addPipelineToSharedGlobals(tree, options.filePath);
  if (options.ci === 'gitlab') {
    // GitLab caches only folders inside the checkout: ignored by git, Nx neither walks nor hashes them
    addToGitignore(tree, 'Fleet CI: the GitLab package-manager cache (kept in the checkout)', [`${options.cache.projectPath}/`]);
  }
  await formatFiles(tree, { sortRootTsconfigPaths: false });
  logger.info(`Wrote ${options.filePath}: a main job and ${options.agents} Fleet agent job(s) running "${options.commands.affected}".`);
  logger.info(secretsHint(options));
}

function secretsHint(o: NormalizedCiWorkflowOptions): string {
  const where: Record<NormalizedCiWorkflowOptions['ci'], string> = {
    github: 'GitHub: Settings > Secrets and variables > Actions: variable FLEET_URL, secret FLEET_TOKEN',
    circleci: 'CircleCI: Project Settings > Environment Variables (or a context): FLEET_URL and FLEET_TOKEN',
    azure: 'Azure Pipelines: pipeline variables FLEET_URL (plain) and FLEET_TOKEN (secret)',
    gitlab: 'GitLab: Settings > CI/CD > Variables: FLEET_URL and FLEET_TOKEN (masked)',
    'bitbucket-pipelines': 'Bitbucket: Repository settings > Repository variables: FLEET_URL and FLEET_TOKEN (secured)',
  };
  return `Set the coordinator URL and token in your CI settings, never in the file. ${where[o.ci]}.`;
}

export default ciWorkflowGenerator;
