import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '@fleet/core';
import { HEADER_BRANCH, MAX_BRANCH_LENGTH, ROUTES } from '@fleet/protocol';
import type { StateStore } from '../state/state-store';
import { principalOf } from '../http/auth';
import { cacheNamespaces, isTrustedBranch, runSpace, scopedRunId, spaceOfRun, type CacheNamespaces } from './namespaces';
import type { Principal } from './principal';

/**
 * Keeps every request inside its token's run space (its workspace, and apart from the
 * workspace's trusted jobs when the token is branch-scoped), before any route runs:
 * - a run id (param or CreateRunRequest.runId) is rewritten to the space's stored id,
 *   so a route can only ever reach runs of the caller's space;
 * - an execution or lease of another space is a 404 that names nothing of it.
 */
export function registerWorkspaceGuard(app: FastifyInstance, state: StateStore): void {
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (request.principal === null) return; // public routes
    const principal = principalOf(request);
    const space = runSpace(principal.workspace, principal.branchScoped);
    const params = request.params as Record<string, unknown> | undefined;
    if (params !== undefined && params !== null) {
      if (typeof params['runId'] === 'string') params['runId'] = scopedRunId(space, params['runId']);
      if (typeof params['executionId'] === 'string') {
        const ref = await state.getExecutionRef(params['executionId']);
        if (ref !== null && spaceOfRun(ref.runId) !== space) {
          throw new NotFoundError(`execution ${params['executionId']} not found`);
        }
      }
      if (typeof params['leaseId'] === 'string') {
        const runId = await state.leaseRunId(params['leaseId']);
        if (runId !== null && spaceOfRun(runId) !== space) {
          throw new NotFoundError(`lease ${params['leaseId']} not found`);
        }
      }
    }
    const body = request.body as Record<string, unknown> | undefined;
    const isCreateRun = request.routeOptions.url === ROUTES.createRun.url && request.method === ROUTES.createRun.method;
    if (isCreateRun && typeof body?.['runId'] === 'string') {
      body['runId'] = scopedRunId(space, body['runId']);
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
  return cacheNamespaces(principal.workspace, branch, isTrustedWriter(principal, branch, trustedBranches), principal.tokenId);
}
