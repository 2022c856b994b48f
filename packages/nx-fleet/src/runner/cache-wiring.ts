import { nxPackageVersion } from '../nx/load';
import { parseLowestVersion } from '../nx-version';
import type { NxRunnerOptions } from '../nx/types';
import type { Reporter } from '../reporter';
import { legacyRemoteCache } from './legacy-remote-cache';

/** Which of Nx's caches this workspace uses: the HTTP remote cache needs the database cache (20.8+). */
export function cacheKind(workspaceRoot: string, nxJson: Record<string, unknown>, env: NodeJS.ProcessEnv): 'http' | 'legacy' {
  const { major, minor } = parseLowestVersion(nxPackageVersion(workspaceRoot)) ?? { major: 0, minor: 0 };
  if (major >= 21) return 'http';
  if (major === 20) return nxJson.useLegacyCache === true || minor < 8 ? 'legacy' : 'http';
  return env.NX_DB_CACHE === 'true' ? 'http' : 'legacy';
}

/**
 * Points Nx's cache client at a cache URL on loopback: through NX_SELF_HOSTED_REMOTE_CACHE_*
 * on the database cache, through the `remoteCache` option on the legacy one. Returns the
 * options to pass on and a function that restores the environment.
 */
export function wireCache(
  kind: 'http' | 'legacy',
  cache: { url: string; secret: string },
  options: NxRunnerOptions,
  reporter: Reporter,
): { options: NxRunnerOptions; restore: () => void } {
  if (kind === 'legacy') {
    return { options: { ...options, remoteCache: legacyRemoteCache(cache.url, cache.secret, reporter) }, restore: () => undefined };
  }
  return { options, restore: setEnv({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: cache.secret }) };
}

/** Sets variables in this process's environment; the returned function puts them back. */
export function setEnv(values: Record<string, string>): () => void {
  const before: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(values)) {
    before[key] = process.env[key];
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
