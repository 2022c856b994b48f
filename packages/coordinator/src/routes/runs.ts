import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '@fleet/core';
import {
  CompleteRunRequest,
  CreateRunRequest,
  JoinRunRequest,
  LeaseRequest,
  ROUTES,
  RunParams,
  type LeaseResponse,
  type RunView,
} from '@fleet/protocol';
import { leaseLoop } from '../leasing';
import { requestSignal } from '../long-poll';
import type { RouteContext } from './context';

const notFound = (runId: string): NotFoundError =>
  new NotFoundError(`run ${runId} not found; create it with POST /v1/runs first`);

export function registerRunRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, clock } = ctx.deps;

  app.post<{ Body: CreateRunRequest }>(
    ROUTES.createRun.url,
    { schema: { body: CreateRunRequest } },
    async (request): Promise<RunView> => {
      const body = request.body;
      return state.createRun(
        {
          runId: body.runId,
          expectedAgents: body.agents ?? 0,
          stopAgentsOnFailure: body.stopAgentsOnFailure ?? false,
          branch: body.branch ?? null,
        },
        clock.now(),
      );
    },
  );

  app.get<{ Params: RunParams }>(ROUTES.getRun.url, { schema: { params: RunParams } }, async (request) => {
    const view = await state.getRun(request.params.runId, clock.now());
    if (view === null) throw notFound(request.params.runId);
    return view;
  });

  app.post<{ Params: RunParams; Body: CompleteRunRequest }>(
    ROUTES.completeRun.url,
    { schema: { params: RunParams, body: CompleteRunRequest } },
    async (request): Promise<RunView> => {
      const { runId } = request.params;
      const result = await state.completeRun(runId, request.body.reason ?? null, clock.now());
      if (result === null) throw notFound(runId);
      for (const executionId of result.changes.executionIds) ctx.wakeups.wakeExecution(executionId);
      ctx.wakeups.wakeRun(runId);
      return result.view;
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
    async (request, reply): Promise<LeaseResponse> =>
      leaseLoop(ctx.deps, ctx.wakeups, request.params.runId, request.body, requestSignal(reply, ctx.shutdown)),
  );
}
