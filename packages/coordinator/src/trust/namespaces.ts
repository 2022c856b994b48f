/**
 * Where a workspace's runs and artifacts live. Isolation is by construction: every run id
 * and artifact key a route touches is built from the caller's workspace, so a token of
 * one workspace cannot even name another's.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_WORKSPACE } from '@fleet/protocol';

/**
 * Runs live in run spaces: one per workspace, and a separate one per workspace for
 * branch-scoped tokens (pull-request jobs), so such a token can neither see nor join nor
 * end a run of the workspace's trusted jobs, even when it knows its id (CI run ids are
 * public). The default workspace's ordinary space is '' (ids stored as they are, so data
 * of the single-token version stays valid); the others are `workspace` and
 * `workspace/branch-scoped`.
 */
export function runSpace(workspace: string, branchScoped: boolean): string {
  const base = workspace === DEFAULT_WORKSPACE && !branchScoped ? '' : workspace;
  return branchScoped ? `${base}/branch-scoped` : base;
}

/** The stored id of a client's run id in a run space (RunId has no `/`, so none can spell another space). */
export function scopedRunId(space: string, runId: string): string {
  return space === '' ? runId : `${space}/${runId}`;
}

/** The run id a client knows, from a stored one. */
export function publicRunId(stored: string): string {
  return stored.slice(stored.lastIndexOf('/') + 1);
}

/** The run space of a stored run id. */
export function spaceOfRun(stored: string): string {
  const slash = stored.lastIndexOf('/');
  return slash === -1 ? '' : stored.slice(0, slash);
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
 * version's artifacts). A branch's own is `workspace@<first 32 hex digits of
 * sha256(branch)>`. Requests that name no branch (a laptop, a CI Fleet does not know)
 * get one namespace per token, `workspace@unbranched-<token id>`: main and agents of one
 * such pipeline share it, and no other token can plant anything in it. A trusted writer
 * reads the shared namespace only, so it never restores what an untrusted one wrote.
 */
export function cacheNamespaces(workspace: string, branch: string | null, trusted: boolean, tokenId: string): CacheNamespaces {
  if (trusted) return { write: workspace, read: [workspace], trusted };
  const own = `${workspace}@${branch === null ? `unbranched-${tokenId}` : createHash('sha256').update(branch).digest('hex').slice(0, 32)}`;
  return { write: own, read: readNamespaces(own), trusted };
}

/** The namespaces a writer to `write` reads from: its own, then its workspace's shared one. */
export function readNamespaces(write: string): string[] {
  const at = write.indexOf('@');
  return at === -1 ? [write] : [write, write.slice(0, at)];
}
