import { nxCacheKind, nxPackageVersion, type NxCacheKind } from '../nx-version';
import type { NxRunnerOptions } from '../nx/types';
import type { Reporter } from '../reporter';
import { legacyRemoteCache } from './legacy-remote-cache';

/** Which of Nx's caches this workspace uses (the decision is nxCacheKind's, in nx-version.ts). */
export function cacheKind(workspaceRoot: string, nxJson: Record<string, unknown>, env: NodeJS.ProcessEnv): NxCacheKind {
  return nxCacheKind(nxPackageVersion(workspaceRoot), nxJson, env);
}

/**
 * Points Nx's cache client at a cache URL on loopback: through NX_SELF_HOSTED_REMOTE_CACHE_*
 * on the database cache, through the `remoteCache` option on the legacy one. Returns the
 * options to pass on and a function that restores the environment.
 */
export function wireCache(
  kind: NxCacheKind,
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
