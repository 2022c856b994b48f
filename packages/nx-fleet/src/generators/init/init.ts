import { formatFiles, logger, readJson, writeJson, type Tree } from '@nx/devkit';
import { addToGitignore } from '../utils/gitignore';
import { classifyNxVersion, nxRangeFromPackageJson, readInstalledNxVersion } from '../../nx-version';
import type { InitGeneratorSchema } from './schema';
import { FleetUrlError, normalizeCoordinatorUrl, verifyCoordinator } from './verify-url';

export const FLEET_RUNNER = 'nx-fleet';
export const GITIGNORE_ENTRY = '.fleet/';
const VERIFY_TIMEOUT_MS = 5000;

export class FleetInitError extends Error {
  constructor(
    readonly code: 'NX_NOT_FOUND' | 'NX_UNSUPPORTED' | 'NO_NX_JSON',
    message: string,
  ) {
    super(message);
    this.name = 'FleetInitError';
  }
}

interface RunnerEntry {
  runner?: string;
  options?: Record<string, unknown>;
  [key: string]: unknown;
}
interface NxJsonWithRunners {
  tasksRunnerOptions?: Record<string, RunnerEntry>;
  [key: string]: unknown;
}

/** The workspace's Nx version: what is installed under its root, else what its package.json asks for. */
export function nxVersionOf(tree: Tree): string | null {
  const installed = readInstalledNxVersion(tree.root);
  if (installed) return installed;
  return tree.exists('package.json') ? nxRangeFromPackageJson(readJson(tree, 'package.json')) : null;
}

function checkNxVersion(tree: Tree): { version: string; frontDoor: 'runner' | 'plugin' } {
  const version = nxVersionOf(tree);
  if (!version) {
    throw new FleetInitError('NX_NOT_FOUND', 'Cannot find Nx in this workspace (node_modules/nx or package.json). Install nx first.');
  }
  const result = classifyNxVersion(version);
  switch (result.kind) {
    case 'runner':
    case 'plugin':
      return { version, frontDoor: result.kind };
    case 'unsupported':
      throw new FleetInitError('NX_UNSUPPORTED', `${result.message ?? `Nx ${version} is not supported.`} Nothing was changed.`);
    default: {
      const never: never = result.kind;
      throw new Error(`Unknown front door ${String(never)}`);
    }
  }
}

/** Sets tasksRunnerOptions.default to the Fleet runner, keeping its other options. Returns true when nx.json changed. */
export function configureRunner(tree: Tree, url: string): boolean {
  if (!tree.exists('nx.json')) throw new FleetInitError('NO_NX_JSON', 'No nx.json at the workspace root: is this an Nx workspace?');
  const nxJson = readJson<NxJsonWithRunners>(tree, 'nx.json');
  const before = JSON.stringify(nxJson);
  const runners = (nxJson.tasksRunnerOptions ??= {});
  const existing: RunnerEntry = runners['default'] ?? {};
  if (existing.runner && existing.runner !== FLEET_RUNNER && existing.runner !== 'nx/tasks-runners/default') {
    logger.warn(`Replacing the tasks runner "${existing.runner}" with "${FLEET_RUNNER}" (its options are kept).`);
  }
  runners['default'] = { ...existing, runner: FLEET_RUNNER, options: { ...(existing.options ?? {}), url } };
  if (JSON.stringify(nxJson) === before) return false;
  writeJson(tree, 'nx.json', nxJson);
  return true;
}

interface PluginEntry {
  plugin: string;
  options?: Record<string, unknown>;
  [key: string]: unknown;
}
interface NxJsonWithPlugins extends NxJsonWithRunners {
  plugins?: Array<string | PluginEntry>;
}

/**
 * Nx 21+: lists nx-fleet in nx.json `plugins` with the url, keeping its other options, and
 * removes a `runner: "nx-fleet"` entry that Nx 21+ would silently ignore (a migration from
 * Nx 19–20). Returns true when nx.json changed.
 */
export function configurePlugin(tree: Tree, url: string): boolean {
  if (!tree.exists('nx.json')) throw new FleetInitError('NO_NX_JSON', 'No nx.json at the workspace root: is this an Nx workspace?');
  const nxJson = readJson<NxJsonWithPlugins>(tree, 'nx.json');
  const before = JSON.stringify(nxJson);
  const plugins = (nxJson.plugins ??= []);
  const index = plugins.findIndex((p) => (typeof p === 'string' ? p : p.plugin) === FLEET_RUNNER);
  const current = index >= 0 ? plugins[index] : undefined;
  const options = typeof current === 'object' ? (current.options ?? {}) : {};
  const migrated = Object.entries(nxJson.tasksRunnerOptions ?? {}).find(([, r]) => r.runner === FLEET_RUNNER);
  const entry: PluginEntry = {
    ...(typeof current === 'object' ? current : {}),
    plugin: FLEET_RUNNER,
    options: { ...(migrated?.[1].options ?? {}), ...options, url },
  };
  if (index >= 0) plugins[index] = entry;
  else plugins.push(entry);
  if (migrated) {
    const [name, runner] = migrated;
    const rest = { ...runner };
    delete rest.runner;
    delete rest.options;
    if (Object.keys(rest).length > 0) nxJson.tasksRunnerOptions![name] = rest;
    else delete nxJson.tasksRunnerOptions![name];
    if (Object.keys(nxJson.tasksRunnerOptions!).length === 0) delete nxJson.tasksRunnerOptions;
    logger.info(`Moved the "${FLEET_RUNNER}" tasks runner entry (ignored by Nx 21+) to the nx-fleet plugin.`);
  }
  if (JSON.stringify(nxJson) === before) return false;
  writeJson(tree, 'nx.json', nxJson);
  return true;
}

/** Adds `.fleet/` (Fleet's local state) to .gitignore unless it is already ignored. Returns true when changed. */
export function ignoreFleetFolder(tree: Tree): boolean {
  return addToGitignore(tree, 'Fleet (distributed task execution)', [GITIGNORE_ENTRY]);
}

/** `nx g nx-fleet:init --url=<coordinator> [--no-verify]`. Writes no token, ever. */
export async function initGenerator(tree: Tree, schema: InitGeneratorSchema): Promise<void> {
  const url = normalizeCoordinatorUrl(schema.url);
  const { version: nxVersion, frontDoor } = checkNxVersion(tree);
  if (schema.verify !== false) {
    try {
      await verifyCoordinator(url, VERIFY_TIMEOUT_MS);
    } catch (error: unknown) {
      if (error instanceof FleetUrlError) {
        throw new FleetUrlError(error.code, `${error.message} Check the URL, or pass --no-verify to configure offline.`, { cause: error });
      }
      throw error;
    }
    logger.info(`Fleet coordinator at ${url} is reachable.`);
  } else {
    logger.warn(`Not checking ${url} (--no-verify).`);
  }
  const changedNxJson = frontDoor === 'plugin' ? configurePlugin(tree, url) : configureRunner(tree, url);
  const changedIgnore = ignoreFleetFolder(tree);
  await formatFiles(tree, { sortRootTsconfigPaths: false });
  logger.info(
    changedNxJson || changedIgnore
      ? `Configured Nx ${nxVersion} to distribute tasks through Fleet at ${url}.`
      : `Nx ${nxVersion} was already configured for Fleet at ${url}; nothing changed.`,
  );
  logger.info(
    'The token is never written to a file. Set the secret FLEET_TOKEN in your CI (and FLEET_URL, or rely on nx.json), ' +
      'then add a pipeline with `nx g nx-fleet:ci-workflow --ci=github` (or circleci, azure, gitlab, bitbucket-pipelines).',
  );
}

export default initGenerator;
