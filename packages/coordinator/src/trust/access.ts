import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '@fleet/core';
import { HEADER_BRANCH, MAX_BRANCH_LENGTH } from '@fleet/protocol';
import type { StateStore } from '../state/state-store';
import { principalOf } from '../http/auth';
import { cacheNamespaces, isTrustedBranch, scopedRunId, workspaceOfRun, type CacheNamespaces } from './namespaces';
import type { Principal } from './principal';

/**
 * Keeps every request inside its token's workspace, before any route runs:
 * - a run id (param or CreateRunRequest.runId) is rewritten to the workspace's stored id,
 *   so a route can only ever reach runs of the caller's workspace;
 * - an execution or lease of another workspace answers exactly as an unknown one (404).
 */
export function registerWorkspaceGuard(app: FastifyInstance, state: StateStore): void {
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (request.principal === null) return; // public routes
    const { workspace } = principalOf(request);
    const params = request.params as Record<string, unknown> | undefined;
    if (params !== undefined && params !== null) {
      if (typeof params['runId'] === 'string') params['runId'] = scopedRunId(workspace, params['runId']);
      if (typeof params['executionId'] === 'string') {
        const ref = await state.getExecutionRef(params['executionId']);
        if (ref !== null && workspaceOfRun(ref.runId) !== workspace) {
          throw new NotFoundError(`execution ${params['executionId']} not found`);
        }
      }
      if (typeof params['leaseId'] === 'string') {
        const runId = await state.leaseRunId(params['leaseId']);
        if (runId !== null && workspaceOfRun(runId) !== workspace) {
          throw new NotFoundError(`lease ${params['leaseId']} not found`);
        }
      }
    }
    const body = request.body as Record<string, unknown> | undefined;
    if (request.routeOptions.url === '/v1/runs' && request.method === 'POST' && typeof body?.['runId'] === 'string') {
      body['runId'] = scopedRunId(workspace, body['runId']);
    }
  });
}

/** The branch a request declares in x-fleet-branch; null when it declares none. */
export function declaredBranch(request: FastifyRequest): string | null {
  const value = request.headers[HEADER_BRANCH];
  const branch = Array.isArray(value) ? value[0] : value;
  if (branch === undefined || branch.trim() === '') return null;
  // clients percent-encode `%` and what is not printable ASCII (a header holds Latin-1 only)
  let decoded = branch.trim();
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // not percent-encoding: the name as it came
  }
  return decoded.slice(0, MAX_BRANCH_LENGTH);
}

/** Whether writes of this principal from this branch go to the shared namespace. */
export function isTrustedWriter(principal: Principal, branch: string | null, trustedBranches: readonly string[]): boolean {
  return !principal.branchScoped && isTrustedBranch(branch, trustedBranches);
}

export function namespacesFor(principal: Principal, branch: string | null, trustedBranches: readonly string[]): CacheNamespaces {
  return cacheNamespaces(principal.workspace, branch, isTrustedWriter(principal, branch, trustedBranches));
}
