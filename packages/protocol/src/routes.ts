/**
 * Every route of the coordinator, with the schemas of its body and answer. The server
 * registers exactly these; the client builds its calls from the same table.
 * All routes but `GET /healthz` need `Authorization: Bearer <token>` of the route's scope.
 */
/**
 * What a route needs of the caller's token (TOKEN_SCOPES: each includes the ones before):
 * `public` needs no token, `read` any token, `write` read-write or admin, `admin` admin.
 */
export type RouteScope = 'public' | 'read' | 'write' | 'admin';

export const ROUTES = {
  health: { method: 'GET', url: '/healthz', scope: 'public' },
  createRun: { method: 'POST', url: '/v1/runs', scope: 'write' }, // CreateRunRequest -> RunView
  getRun: { method: 'GET', url: '/v1/runs/:runId', scope: 'read' }, // -> RunView
  completeRun: { method: 'POST', url: '/v1/runs/:runId/complete', scope: 'write' }, // CompleteRunRequest -> RunView
  heartbeatRun: { method: 'POST', url: '/v1/runs/:runId/heartbeat', scope: 'write' }, // -> RunHeartbeatResponse (main is alive)
  joinRun: { method: 'POST', url: '/v1/runs/:runId/agents', scope: 'write' }, // JoinRunRequest -> RunView
  lease: { method: 'POST', url: '/v1/runs/:runId/lease', scope: 'write' }, // LeaseRequest -> LeaseResponse (long-poll)
  createExecution: { method: 'POST', url: '/v1/runs/:runId/executions', scope: 'write' }, // CreateExecutionRequest -> ExecutionView
  getExecution: { method: 'GET', url: '/v1/executions/:executionId', scope: 'read' }, // ?since&waitMs -> ExecutionView (long-poll)
  reportHash: { method: 'POST', url: '/v1/executions/:executionId/hashes', scope: 'write' }, // ReportHashRequest -> 204
  heartbeatExecution: { method: 'POST', url: '/v1/executions/:executionId/heartbeat', scope: 'write' }, // -> 204
  finishExecution: { method: 'POST', url: '/v1/executions/:executionId/finish', scope: 'write' }, // FinishExecutionRequest -> ExecutionView
  heartbeatLease: { method: 'POST', url: '/v1/leases/:leaseId/heartbeat', scope: 'write' }, // LeaseHeartbeatRequest -> 204 | 409 not_owner
  completeLease: { method: 'POST', url: '/v1/leases/:leaseId/complete', scope: 'write' }, // CompleteLeaseRequest -> CompleteLeaseResponse
  releaseLease: { method: 'POST', url: '/v1/leases/:leaseId/release', scope: 'write' }, // ReleaseLeaseRequest -> 204 (the task goes back to the queue)
  getCache: { method: 'GET', url: '/v1/cache/:hash', scope: 'read' }, // -> 200 octet-stream | 404 (x-fleet-branch)
  putCache: { method: 'PUT', url: '/v1/cache/:hash', scope: 'write' }, // octet-stream, Content-Length, x-fleet-sha256 -> 200 | 409 | 413
  createToken: { method: 'POST', url: '/v1/tokens', scope: 'admin' }, // CreateTokenRequest -> CreatedToken (the secret, once)
  listTokens: { method: 'GET', url: '/v1/tokens', scope: 'admin' }, // -> TokenList (never secrets)
  revokeToken: { method: 'DELETE', url: '/v1/tokens/:tokenId', scope: 'admin' }, // -> TokenView
} as const satisfies Record<string, { method: string; url: string; scope: RouteScope }>;

export type RouteName = keyof typeof ROUTES;

/** Fills `:params` of a route's url, encoding each value. */
export function routePath(name: RouteName, params: Record<string, string> = {}): string {
  return ROUTES[name].url.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`route ${name} needs the parameter ${key}`);
    return encodeURIComponent(value);
  });
}
