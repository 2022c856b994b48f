import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Tree } from '@nx/devkit';

/**
 * What the ci-workflow generator needs to know about a workspace, read from the
 * virtual tree (so tests control it) and, for the main branch only, from git.
 */
export type PackageManagerName = 'npm' | 'yarn' | 'pnpm';

export interface PackageManagerFacts {
  name: PackageManagerName;
  /** Yarn 2+ ("berry"): `--immutable` and corepack instead of `--frozen-lockfile`. */
  yarnBerry: boolean;
  lockfile: string | null;
  /** Frozen install command. */
  install: string;
  /**
   * Prefix that runs a workspace binary: `npx --no`, `yarn`, `pnpm exec`. npm's is `npx --no` so that a
   * binary missing from node_modules (an install step that failed: the stop step runs anyway, with the
   * token in its environment) is an error, never a package of that name fetched from the registry and run.
   */
  exec: string;
  /** Major version to install when the package manager is not preinstalled (pnpm). */
  version: string | null;
  /** True when package.json has a `packageManager` field naming this manager. */
  pinnedByPackageJson: boolean;
}

interface RootPackageJson {
  packageManager?: unknown;
  engines?: { node?: unknown };
}

function readRootPackageJson(tree: Tree): RootPackageJson {
  const text = tree.read('package.json', 'utf-8');
  if (!text) return {};
  try {
    return JSON.parse(text) as RootPackageJson;
  } catch (error: unknown) {
    throw new Error(`package.json is not valid JSON: ${(error as Error).message}`);
  }
}

const LOCKFILES: ReadonlyArray<[string, PackageManagerName]> = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['package-lock.json', 'npm'],
];

/** Detects the package manager from `packageManager` in package.json, else the lockfile, else npm. */
export function detectPackageManagerFromTree(tree: Tree): PackageManagerFacts {
  const pkg = readRootPackageJson(tree);
  const field = typeof pkg.packageManager === 'string' ? pkg.packageManager : '';
  const fieldMatch = /^(npm|yarn|pnpm)@(\d+)/.exec(field);
  let name: PackageManagerName = 'npm';
  let lockfile: string | null = null;
  if (fieldMatch) {
    name = fieldMatch[1] as PackageManagerName;
    lockfile = LOCKFILES.find(([file, pm]) => pm === name && tree.exists(file))?.[0] ?? null;
  } else {
    const found = LOCKFILES.find(([file]) => tree.exists(file));
    if (found) [lockfile, name] = found;
  }
  const fieldMajor = fieldMatch ? Number(fieldMatch[2]) : null;
  const yarnBerry = name === 'yarn' && ((fieldMajor !== null && fieldMajor >= 2) || tree.exists('.yarnrc.yml'));
  switch (name) {
    case 'npm':
      return { name, yarnBerry, lockfile, install: 'npm ci', exec: 'npx --no', version: null, pinnedByPackageJson: !!fieldMatch };
    case 'yarn':
      return {
        name,
        yarnBerry,
        lockfile,
        install: yarnBerry ? 'yarn install --immutable' : 'yarn install --frozen-lockfile',
        exec: 'yarn',
        version: null,
        pinnedByPackageJson: !!fieldMatch,
      };
    case 'pnpm':
      return {
        name,
        yarnBerry,
        lockfile,
        install: 'pnpm install --frozen-lockfile',
        exec: 'pnpm exec',
        version: fieldMajor !== null ? String(fieldMajor) : pnpmMajorFromLockfile(tree, lockfile),
        pinnedByPackageJson: !!fieldMatch,
      };
    default: {
      const never: never = name;
      throw new Error(`Unknown package manager ${String(never)}`);
    }
  }
}

/** pnpm's lockfile format says which pnpm wrote it: 9.0 -> pnpm 9, 6.x -> pnpm 8, 5.x -> pnpm 7. */
function pnpmMajorFromLockfile(tree: Tree, lockfile: string | null): string {
  const text = lockfile ? tree.read(lockfile, 'utf-8') ?? '' : '';
  const match = /^lockfileVersion:\s*['"]?(\d+)/m.exec(text);
  const format = match ? Number(match[1]) : 9;
  if (format >= 9) return '9';
  if (format >= 6) return '8';
  return '7';
}

const EXACT_VERSION = /^v?(\d+(?:\.\d+){0,2})$/;

/**
 * The Node version the workspace declares: `.nvmrc`, `.node-version` (exact versions as
 * written, aliases like `lts/*` skipped), then `engines.node` (the major of its lowest
 * bound), else "20".
 */
export function detectNodeVersion(tree: Tree): string {
  for (const file of ['.nvmrc', '.node-version']) {
    const text = tree.read(file, 'utf-8')?.trim();
    const match = text ? EXACT_VERSION.exec(text) : null;
    if (match) return match[1];
  }
  const engines = readRootPackageJson(tree).engines?.node;
  if (typeof engines === 'string') {
    const match = /(\d+)/.exec(engines);
    if (match) return match[1];
  }
  return '20';
}

/** Major version of a detected Node version ("20.11.1" -> "20"). */
export function nodeMajor(version: string): string {
  return version.split('.')[0];
}

interface NxJsonBranchFields {
  defaultBase?: unknown;
  affected?: { defaultBase?: unknown };
}

/**
 * The main branch: nx.json `defaultBase` (without `origin/`), else git's
 * `origin/HEAD`, else `init.defaultBranch`, else "main".
 */
export function detectMainBranch(tree: Tree, nxJson: NxJsonBranchFields): string {
  const fromNx = nxJson.defaultBase ?? nxJson.affected?.defaultBase;
  if (typeof fromNx === 'string' && fromNx.trim() !== '') return fromNx.trim().replace(/^origin\//, '');
  if (existsSync(tree.root)) {
    const originHead = git(tree.root, ['symbolic-ref', '--short', 'refs/remotes/origin/HEAD']);
    if (originHead) return originHead.replace(/^origin\//, '');
    const initDefault = git(tree.root, ['config', 'init.defaultBranch']);
    if (initDefault) return initDefault;
  }
  return 'main';
}

function git(cwd: string, args: string[]): string | null {
  try {
    const out = execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    return out.trim() || null;
  } catch (error: unknown) {
    // Not a git repository, no origin, or git missing: the caller falls back.
    void error;
    return null;
  }
}
