/**
 * Every route of the coordinator, with the schemas of its body and answer. The server
 * registers exactly these; the client builds its calls from the same table.
 * All routes but `GET /healthz` need `Authorization: Bearer <token>`.
 */
export const ROUTES = {
  health: { method: 'GET', url: '/healthz' },
  createRun: { method: 'POST', url: '/v1/runs' }, // CreateRunRequest -> RunView
  getRun: { method: 'GET', url: '/v1/runs/:runId' }, // -> RunView
  completeRun: { method: 'POST', url: '/v1/runs/:runId/complete' }, // CompleteRunRequest -> RunView
  heartbeatRun: { method: 'POST', url: '/v1/runs/:runId/heartbeat' }, // -> RunHeartbeatResponse (main is alive)
  joinRun: { method: 'POST', url: '/v1/runs/:runId/agents' }, // JoinRunRequest -> RunView
  lease: { method: 'POST', url: '/v1/runs/:runId/lease' }, // LeaseRequest -> LeaseResponse (long-poll)
  createExecution: { method: 'POST', url: '/v1/runs/:runId/executions' }, // CreateExecutionRequest -> ExecutionView
  getExecution: { method: 'GET', url: '/v1/executions/:executionId' }, // ?since&waitMs -> ExecutionView (long-poll)
  reportHash: { method: 'POST', url: '/v1/executions/:executionId/hashes' }, // ReportHashRequest -> 204
  heartbeatExecution: { method: 'POST', url: '/v1/executions/:executionId/heartbeat' }, // -> 204
  finishExecution: { method: 'POST', url: '/v1/executions/:executionId/finish' }, // FinishExecutionRequest -> ExecutionView
  heartbeatLease: { method: 'POST', url: '/v1/leases/:leaseId/heartbeat' }, // LeaseHeartbeatRequest -> 204 | 409 not_owner
  completeLease: { method: 'POST', url: '/v1/leases/:leaseId/complete' }, // CompleteLeaseRequest -> CompleteLeaseResponse
  releaseLease: { method: 'POST', url: '/v1/leases/:leaseId/release' }, // ReleaseLeaseRequest -> 204 (the task goes back to the queue)
  getCache: { method: 'GET', url: '/v1/cache/:hash' }, // -> 200 octet-stream | 404
  putCache: { method: 'PUT', url: '/v1/cache/:hash' }, // octet-stream, Content-Length -> 200 | 409 | 413
} as const;

export type RouteName = keyof typeof ROUTES;

/** Fills `:params` of a route's url, encoding each value. */
export function routePath(name: RouteName, params: Record<string, string> = {}): string {
  return ROUTES[name].url.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`route ${name} needs the parameter ${key}`);
    return encodeURIComponent(value);
  });
}
