import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { requireFromWorkspace } from './nx/load';

/**
 * The one place that knows which Nx versions Fleet supports, through which front door,
 * and which of Nx's caches a version uses (see docs: ARCHITECTURE.md "Front doors").
 * Every version threshold lives here; callers ask the named functions below.
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

/** The oldest supported Nx: the tasks runner, from 19.8, up to (not including) major 21. */
export const RUNNER_RANGE = { from: { major: 19, minor: 8, patch: 0 }, toExclusiveMajor: 21 } as const;
/** The plugin hook, majors 21 to 24: the newest major Fleet has been tested with is the last one supported. */
export const PLUGIN_RANGE = { fromMajor: 21, toInclusiveMajor: 24 } as const;

const MIN = RUNNER_RANGE.from;
export const SUPPORTED_RANGE_TEXT =
  `Nx ${MIN.major}.${MIN.minor} to ${PLUGIN_RANGE.toInclusiveMajor}.x ` +
  `(${MIN.major}.${MIN.minor}–${RUNNER_RANGE.toExclusiveMajor - 1}.x through the tasks runner, ` +
  `${PLUGIN_RANGE.fromMajor}–${PLUGIN_RANGE.toInclusiveMajor} through the plugin)`;
/** The semver range of `nx` / `@nx/devkit` that nx-fleet's package.json peerDependencies declare. */
export const SUPPORTED_PEER_RANGE = `>=${MIN.major}.${MIN.minor}.${MIN.patch} <${PLUGIN_RANGE.toInclusiveMajor + 1}.0.0`;

/** Which of Nx's caches a workspace uses: the HTTP remote cache needs the database cache. */
export type NxCacheKind = 'http' | 'legacy';
/** From this Nx the database cache is the default (20.8; before it, 20.x has only the legacy cache). */
export const DB_CACHE_DEFAULT_FROM = { major: 20, minor: 8 } as const;
/** From this major the legacy file cache is gone (Nx 21): always the database cache. */
export const LEGACY_CACHE_REMOVED_MAJOR = 21;

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

/*
 * Two readers of the installed Nx version, on purpose: they answer different questions.
 *
 * - nxPackageVersion: while Nx runs (the tasks runner, the plugin hook). It must name the
 *   Nx that requireFromWorkspace actually loads, so it resolves `nx/package.json` the way
 *   Node does (NODE_PATH and global folders, package "exports", Yarn PnP's patched
 *   resolver) and throws when there is none: Nx is running, so that cannot happen.
 * - readInstalledNxVersion: before Nx runs (start-ci-run's front-door check, the init
 *   generator). Nx may not be installed yet, so it never throws and falls back to the
 *   range package.json declares; it reads the file afresh (no require cache).
 *
 * Either strategy in place of the other would change what these callers see.
 */

/** The version of the Nx a workspace loads, resolved like `require('nx/package.json')` from its root. */
export function nxPackageVersion(workspaceRoot: string): string {
  return requireFromWorkspace<{ version: string }>('nx/package.json', workspaceRoot).version;
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
  const { major } = parsed;
  if (atLeast(parsed, RUNNER_RANGE.from) && major < RUNNER_RANGE.toExclusiveMajor) return { kind: 'runner' };
  if (major >= PLUGIN_RANGE.fromMajor && major <= PLUGIN_RANGE.toInclusiveMajor) return { kind: 'plugin' };
  const why = major > PLUGIN_RANGE.toInclusiveMajor ? 'is newer than Fleet has been tested with' : 'is too old';
  return {
    kind: 'unsupported',
    message: `Nx ${v} ${why}. Fleet supports ${SUPPORTED_RANGE_TEXT}.`,
  };
}

/**
 * Which of Nx's caches a workspace on Nx `version` uses: Nx 21+ only the database cache;
 * 20.8+ the database cache unless nx.json sets `useLegacyCache: true`; 20.0–20.7 the
 * legacy one; 19.x (and an unreadable version) the database cache only with NX_DB_CACHE=true.
 */
export function nxCacheKind(version: string, nxJson: { useLegacyCache?: unknown }, env: NodeJS.ProcessEnv): NxCacheKind {
  const { major, minor } = parseLowestVersion(version) ?? { major: 0, minor: 0 };
  if (major >= LEGACY_CACHE_REMOVED_MAJOR) return 'http';
  if (major === DB_CACHE_DEFAULT_FROM.major) return nxJson.useLegacyCache === true || minor < DB_CACHE_DEFAULT_FROM.minor ? 'legacy' : 'http';
  return env.NX_DB_CACHE === 'true' ? 'http' : 'legacy';
}

function atLeast(v: { major: number; minor: number; patch: number }, min: { major: number; minor: number; patch: number }): boolean {
  if (v.major !== min.major) return v.major > min.major;
  if (v.minor !== min.minor) return v.minor > min.minor;
  return v.patch >= min.patch;
}
