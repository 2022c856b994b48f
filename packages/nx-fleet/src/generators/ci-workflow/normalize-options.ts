import { names, readJson, type Tree } from '@nx/devkit';
import {
  detectMainBranch,
  detectNodeVersion,
  detectPackageManagerFromTree,
  nodeMajor,
  type PackageManagerFacts,
} from '../utils/workspace-facts';
import { CI_PROVIDERS, type CiProvider, type CiWorkflowGeneratorSchema } from './schema';

/** Thrown for options schema.json rejects; the generator writes nothing. */
export class CiWorkflowOptionsError extends Error {
  readonly code = 'INVALID_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'CiWorkflowOptionsError';
  }
}

/** Where a package manager keeps its download cache, and how to point it elsewhere (GitLab, Azure). */
export interface CacheFacts {
  /** Cache folder under $HOME (CircleCI, Bitbucket). */
  homePath: string;
  /** Cache folder name for the providers that cache a folder they name (GitLab: inside the checkout; Azure: the pipeline workspace). */
  projectPath: string;
  /**
   * Environment variables that point the package manager at `<root>/<projectPath>`; `root` is
   * the provider's variable. Preferred: a `config set` could rewrite a tracked file (Yarn 2+
   * writes `yarn config set` to the project's .yarnrc.yml).
   */
  env: (root: string) => Record<string, string>;
  /** For managers without such a variable: a command that sets it in the user's configuration (never a file of the workspace), or null. */
  command: (root: string) => string | null;
}

export interface NormalizedCiWorkflowOptions {
  ci: CiProvider;
  workflowName: string;
  workflowFileName: string;
  /** The file this generator writes, relative to the workspace root. */
  filePath: string;
  agents: number;
  agentNumbers: number[];
  targets: string[];
  mainBranch: string;
  timeoutMinutes: number;
  /** GitLab: RUNNER_SCRIPT_TIMEOUT of the main job, so that its after_script still runs when the job would time out. */
  scriptTimeoutMinutes: number;
  overwrite: boolean;
  pm: PackageManagerFacts;
  /** Commands that make the package manager available in a plain `node:<v>` container. */
  pmSetup: string[];
  cache: CacheFacts;
  nodeVersion: string;
  nodeMajor: string;
  /** Shell commands, self-contained (they read only environment variables). */
  commands: { startCiRun: string; affected: string; stopAllAgents: string; startAgent: string };
}

/** Starts with a letter; no path separators or characters file systems refuse (the name is also the GitHub file name). */
const NAME_PATTERN = /^[a-zA-Z][^/\\:*?"<>|\u0000-\u001f]*$/;
/**
 * GitLab skips after_script when a job times out, unless the script has its own, shorter
 * time-out (RUNNER_SCRIPT_TIMEOUT): the main job's script stops this many minutes before the
 * job would, leaving time for after_script (stop-all-agents) and for the job's
 * start (image, clone, cache): 5 minutes each (the template sets RUNNER_AFTER_SCRIPT_TIMEOUT
 * 5m). Hence the smallest job time-out.
 */
export const SCRIPT_TIMEOUT_MARGIN_MINUTES = 10;
const MIN_TIMEOUT_MINUTES = 15;
const TARGET_PATTERN = /^[A-Za-z0-9_.:-]+$/;
const BRANCH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export function pipelinePath(ci: CiProvider, workflowFileName: string): string {
  switch (ci) {
    case 'github':
      return `.github/workflows/${workflowFileName}.yml`;
    case 'circleci':
      return '.circleci/config.yml';
    case 'azure':
      return 'azure-pipelines.yml';
    case 'gitlab':
      return '.gitlab-ci.yml';
    case 'bitbucket-pipelines':
      return 'bitbucket-pipelines.yml';
    default: {
      const never: never = ci;
      throw new CiWorkflowOptionsError(`Unknown CI provider ${String(never)}`);
    }
  }
}

function cacheFacts(pm: PackageManagerFacts): CacheFacts {
  switch (pm.name) {
    case 'npm':
      // `npm config set` writes the user's ~/.npmrc, not the workspace's
      return { homePath: '~/.npm', projectPath: '.npm', env: () => ({}), command: (root) => `npm config set cache "${root}/.npm"` };
    case 'yarn':
      return {
        homePath: pm.yarnBerry ? '~/.yarn/berry/cache' : '~/.cache/yarn',
        projectPath: '.yarn-cache',
        // Yarn 1 and 2+ both read YARN_CACHE_FOLDER; 2+ uses it only with the global cache off
        env: (root) => ({ YARN_CACHE_FOLDER: `${root}/.yarn-cache`, ...(pm.yarnBerry ? { YARN_ENABLE_GLOBAL_CACHE: 'false' } : {}) }),
        command: () => null,
      };
    case 'pnpm':
      return {
        homePath: '~/.local/share/pnpm/store',
        projectPath: '.pnpm-store',
        env: () => ({}),
        command: (root) => `pnpm config set --global store-dir "${root}/.pnpm-store"`,
      };
    default: {
      const never: never = pm.name;
      throw new Error(`Unknown package manager ${String(never)}`);
    }
  }
}

function parseTargets(raw: string | string[] | undefined): string[] {
  const list = (Array.isArray(raw) ? raw : (raw ?? 'lint,test,build').split(','))
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (list.length === 0) throw new CiWorkflowOptionsError('--targets must name at least one target, e.g. --targets=lint,test,build');
  for (const t of list) {
    if (!TARGET_PATTERN.test(t)) {
      throw new CiWorkflowOptionsError(`--targets: "${t}" is not a valid target name (letters, digits, "_", ".", ":", "-")`);
    }
  }
  return [...new Set(list)];
}

function checkInteger(value: unknown, flag: string, min: number, max: number, fallback: number): number {
  const n = value === undefined ? fallback : typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new CiWorkflowOptionsError(`--${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/**
 * Checks the options the way schema.json does (so calling the generator directly is as
 * safe as `nx g`) and derives everything the templates need.
 */
export function normalizeOptions(tree: Tree, schema: CiWorkflowGeneratorSchema): NormalizedCiWorkflowOptions {
  const ci = schema.ci;
  if (!(CI_PROVIDERS as readonly string[]).includes(ci)) {
    throw new CiWorkflowOptionsError(`--ci must be one of ${CI_PROVIDERS.join(', ')} (got ${JSON.stringify(ci)})`);
  }
  const rawName = schema.name ?? 'CI';
  if (typeof rawName !== 'string' || !NAME_PATTERN.test(rawName)) {
    throw new CiWorkflowOptionsError(
      `--name must start with a letter and contain none of / \\ : * ? " < > | (it names the file; got ${JSON.stringify(rawName)})`,
    );
  }
  const agents = checkInteger(schema.agents, 'agents', 1, 50, 3);
  const timeoutMinutes = checkInteger(schema.timeoutMinutes, 'timeoutMinutes', MIN_TIMEOUT_MINUTES, 360, 60);
  const targets = parseTargets(schema.targets);
  const nxJson = tree.exists('nx.json') ? readJson<Record<string, unknown>>(tree, 'nx.json') : {};
  const mainBranch = schema.mainBranch ?? detectMainBranch(tree, nxJson);
  if (!BRANCH_PATTERN.test(mainBranch)) {
    throw new CiWorkflowOptionsError(`--mainBranch: "${mainBranch}" is not a branch name this generator accepts`);
  }
  const { name: workflowName, fileName: workflowFileName } = names(rawName.trim());
  const pm = detectPackageManagerFromTree(tree);
  const nodeVersion = detectNodeVersion(tree);
  const pmSetup: string[] = [];
  if (pm.name === 'pnpm') pmSetup.push(`npm install --global pnpm@${pm.version ?? '9'}`);
  if (pm.yarnBerry) pmSetup.push('corepack enable');
  const x = pm.exec;
  return {
    ci,
    workflowName,
    workflowFileName,
    filePath: pipelinePath(ci, workflowFileName),
    agents,
    agentNumbers: Array.from({ length: agents }, (_, i) => i + 1),
    targets,
    mainBranch,
    timeoutMinutes,
    scriptTimeoutMinutes: timeoutMinutes - SCRIPT_TIMEOUT_MARGIN_MINUTES,
    overwrite: schema.overwrite === true,
    pm,
    pmSetup,
    cache: cacheFacts(pm),
    nodeVersion,
    nodeMajor: nodeMajor(nodeVersion),
    commands: {
      startCiRun: `${x} nx-fleet start-ci-run --agents ${agents}`,
      affected: `${x} nx affected -t ${targets.join(' ')}`,
      stopAllAgents: `${x} nx-fleet stop-all-agents`,
      startAgent: `${x} nx-fleet start-agent --name "$FLEET_AGENT_NAME"`,
    },
  };
}
