/**
 * Where a workspace's runs and artifacts live. Isolation is by construction: every run id
 * and artifact key a route touches is built from the caller's workspace, so a token of
 * one workspace cannot even name another's.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_WORKSPACE } from '@fleet/protocol';

/**
 * The stored id of a client's run id. The default workspace keeps ids as they are (data
 * of the single-token version stays valid); others are `workspace/runId`, which no client
 * run id can spell (RunId has no `/`).
 */
export function scopedRunId(workspace: string, runId: string): string {
  return workspace === DEFAULT_WORKSPACE ? runId : `${workspace}/${runId}`;
}

/** The run id a client knows, from a stored one. */
export function publicRunId(stored: string): string {
  const slash = stored.indexOf('/');
  return slash === -1 ? stored : stored.slice(slash + 1);
}

export function workspaceOfRun(stored: string): string {
  const slash = stored.indexOf('/');
  return slash === -1 ? DEFAULT_WORKSPACE : stored.slice(0, slash);
}

/** Branch patterns: exact names, or `*` for any run of characters but `/` (`release/*`). */
export function isTrustedBranch(branch: string | null, patterns: readonly string[]): boolean {
  if (branch === null) return false;
  return patterns.some((pattern) => {
    const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^/]*')}$`);
    return re.test(branch);
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface CacheNamespaces {
  /** Where this writer's artifacts go. */
  readonly write: string;
  /** Where its reads look, in order: its own namespace first, then the shared one. */
  readonly read: readonly string[];
  readonly trusted: boolean;
}

/**
 * The shared namespace of a workspace is its name (`default` holds the single-token
 * version's artifacts). A branch's own is `workspace@<sha256(branch), 32 hex>`; writes
 * that name no branch share one `workspace@unbranched`. A trusted writer reads the shared
 * namespace only, so it never restores what an untrusted one wrote.
 */
export function cacheNamespaces(workspace: string, branch: string | null, trusted: boolean): CacheNamespaces {
  if (trusted) return { write: workspace, read: [workspace], trusted };
  const own = `${workspace}@${branch === null ? 'unbranched' : createHash('sha256').update(branch).digest('hex').slice(0, 32)}`;
  return { write: own, read: readNamespaces(own), trusted };
}

/** The namespaces a writer to `write` reads from: its own, then its workspace's shared one. */
export function readNamespaces(write: string): string[] {
  const at = write.indexOf('@');
  return at === -1 ? [write] : [write, write.slice(0, at)];
}
