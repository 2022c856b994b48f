import type { FastifyInstance } from 'fastify';
import { DEFAULT_RETRIES, FleetError, NotFoundError } from '@fleet/core';
import {
  CompleteRunRequest,
  CreateRunRequest,
  JoinRunRequest,
  LeaseRequest,
  ROUTES,
  RunParams,
  type LeaseResponse,
  type RunHeartbeatResponse,
  type RunView,
} from '@fleet/protocol';
import { enforceRun, leaseLoop } from '../leasing';
import { requestSignal } from '../long-poll';
import { principalOf } from '../http/auth';
import { SERVER_TOKEN_ID } from '../trust/principal';
import { declaredBranch, namespacesFor } from '../trust/access';
import type { RouteContext } from './context';

const notFound = (runId: string): NotFoundError =>
  new NotFoundError(`run ${runId} not found; create it with POST /v1/runs first`);

export function registerRunRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, clock, config } = ctx.deps;

  // idempotent for one run id: a repeated request returns the run as first created
  app.post<{ Body: CreateRunRequest }>(
    ROUTES.createRun.url,
    { schema: { body: CreateRunRequest } },
    async (request): Promise<RunView> => {
      const body = request.body;
      const branch = body.branch ?? declaredBranch(request);
      return state.createRun(
        {
          runId: body.runId,
          expectedAgents: body.agents ?? 0,
          stopAgentsOnFailure: body.stopAgentsOnFailure ?? false,
          branch,
          cacheNamespace: namespacesFor(principalOf(request), branch, config.trustedBranches).write,
          retries: body.retries ?? DEFAULT_RETRIES,
          stopAgentsAfter: [...new Set(body.stopAgentsAfter ?? [])],
          mainTimeoutMs: body.mainTimeoutMs ?? config.mainSilenceMs,
          runTimeoutMs: body.runTimeoutMs ?? config.runTimeoutMs,
          taskTimeoutMs: body.taskTimeoutMs ?? config.taskTimeoutMs,
        },
        clock.now(),
      );
    },
  );

  app.get<{ Params: RunParams }>(ROUTES.getRun.url, { schema: { params: RunParams } }, async (request) => {
    if ((await state.getRun(request.params.runId, clock.now())) !== null) {
      await enforceRun(ctx, request.params.runId);
    }
    const view = await state.getRun(request.params.runId, clock.now());
    if (view === null) throw notFound(request.params.runId);
    return view;
  });

  app.post<{ Params: RunParams; Body: CompleteRunRequest }>(
    ROUTES.completeRun.url,
    { schema: { params: RunParams, body: CompleteRunRequest } },
    async (request): Promise<RunView> => {
      const { runId } = request.params;
      // a time-out that is due wins over the completion (the run then reports failed)
      if ((await state.getRun(runId, clock.now())) !== null) await enforceRun(ctx, runId);
      const result = await state.completeRun(runId, request.body.reason ?? null, clock.now());
      if (result === null) throw notFound(runId);
      for (const executionId of result.changes.executionIds) ctx.wakeups.wakeExecution(executionId);
      ctx.wakeups.wakeRun(runId);
      return result.view;
    },
  );

  // main is alive: contact on every running execution of the run, then the run's status
  app.post<{ Params: RunParams }>(
    ROUTES.heartbeatRun.url,
    { schema: { params: RunParams } },
    async (request): Promise<RunHeartbeatResponse> => {
      const { runId } = request.params;
      if ((await state.heartbeatRun(runId, clock.now())) === null) throw notFound(runId);
      await enforceRun(ctx, runId);
      const after = await state.heartbeatRun(runId, clock.now());
      if (after === null) throw notFound(runId);
      return after;
    },
  );

  app.post<{ Params: RunParams; Body: JoinRunRequest }>(
    ROUTES.joinRun.url,
    { schema: { params: RunParams, body: JoinRunRequest } },
    async (request): Promise<RunView> => {
      const { runId } = request.params;
      const view = await state.joinRun(runId, request.body.agentName, request.body.parallel, clock.now());
      if (view === null) throw notFound(runId);
      return view;
    },
  );

  app.post<{ Params: RunParams; Body: LeaseRequest }>(
    ROUTES.lease.url,
    { schema: { params: RunParams, body: LeaseRequest } },
    async (request, reply): Promise<LeaseResponse> => {
      const principal = principalOf(request);
      return leaseLoop(ctx, request.params.runId, request.body, requestSignal(reply, ctx.shutdown), async () => {
        if (principal.tokenId === SERVER_TOKEN_ID) return;
        const revokedAt = await state.tokenRevokedAt(principal.tokenId);
        if (revokedAt !== null) {
          throw new FleetError('unauthorized', `token ${principal.tokenId} was revoked while this request waited; it gets no task`);
        }
      });
    },
  );
}
