import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The one place that knows which Nx versions Fleet supports and through which
 * front door (see docs: ARCHITECTURE.md "Front doors").
 *
 * - 19.8 – 20.x: the custom tasks runner (`tasksRunnerOptions.default.runner`).
 * - 21 – 24: the plugin hook (`preTasksExecution`); Nx ignores runner entries there.
 */
export type NxFrontDoor = 'runner' | 'plugin' | 'unsupported';

export interface NxVersionClass {
  kind: NxFrontDoor;
  /** Set for unsupported versions; names the supported range. */
  message?: string;
}

export const RUNNER_RANGE = { from: '19.8.0', toExclusiveMajor: 21 } as const;
export const PLUGIN_RANGE = { fromMajor: 21, toInclusiveMajor: 24 } as const;
export const SUPPORTED_RANGE_TEXT = 'Nx 19.8 to 24.x (19.8–20.x through the tasks runner, 21–24 through the plugin)';

interface PackageJsonLike {
  version?: unknown;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
  peerDependencies?: Record<string, unknown>;
}

function readJsonIfExists(file: string): PackageJsonLike | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJsonLike;
  } catch (error: unknown) {
    // An unreadable package.json is treated as absent: the caller falls back.
    void error;
    return null;
  }
}

/**
 * The Nx version installed for a workspace: `node_modules/nx/package.json` found the way
 * Node resolves it from the workspace root (walking up), else the `nx` range declared in
 * the workspace's package.json (dependencies, then devDependencies), else null.
 */
export function readInstalledNxVersion(workspaceRoot: string): string | null {
  let dir = workspaceRoot;
  for (;;) {
    const pkg = readJsonIfExists(join(dir, 'node_modules', 'nx', 'package.json'));
    if (pkg && typeof pkg.version === 'string') return pkg.version;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const rootPkg = readJsonIfExists(join(workspaceRoot, 'package.json'));
  return nxRangeFromPackageJson(rootPkg);
}

/** The `nx` version range a package.json declares, or null. */
export function nxRangeFromPackageJson(pkg: PackageJsonLike | null | undefined): string | null {
  if (!pkg) return null;
  for (const deps of [pkg.dependencies, pkg.devDependencies]) {
    const range = deps?.['nx'];
    if (typeof range === 'string' && range.trim() !== '') return range.trim();
  }
  return null;
}

/**
 * Parses the lowest version a version or simple range names ("20.8.4", "^19.8.0",
 * "~20.1", ">=19.8.0 <21", "19.x", "v20.0.0-beta.1"). Null when none can be read.
 */
export function parseLowestVersion(v: string): { major: number; minor: number; patch: number } | null {
  const match = /(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?/.exec(v);
  if (!match) return null;
  const num = (s: string | undefined): number => (s === undefined || s === 'x' || s === '*' ? 0 : Number(s));
  return { major: Number(match[1]), minor: num(match[2]), patch: num(match[3]) };
}

/** Which front door a given Nx version (or range) needs. */
export function classifyNxVersion(v: string): NxVersionClass {
  const parsed = parseLowestVersion(v);
  if (!parsed) {
    return {
      kind: 'unsupported',
      message: `Cannot tell which Nx version "${v}" is. Fleet supports ${SUPPORTED_RANGE_TEXT}.`,
    };
  }
  const { major, minor } = parsed;
  if (major === 19 && minor >= 8) return { kind: 'runner' };
  if (major === 20) return { kind: 'runner' };
  if (major >= PLUGIN_RANGE.fromMajor && major <= PLUGIN_RANGE.toInclusiveMajor) return { kind: 'plugin' };
  const why = major > PLUGIN_RANGE.toInclusiveMajor ? 'is newer than Fleet has been tested with' : 'is too old';
  return {
    kind: 'unsupported',
    message: `Nx ${v} ${why}. Fleet supports ${SUPPORTED_RANGE_TEXT}.`,
  };
}
