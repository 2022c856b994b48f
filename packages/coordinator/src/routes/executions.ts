import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '@fleet/core';
import {
  CreateExecutionRequest,
  ExecutionParams,
  FinishExecutionRequest,
  ReportHashRequest,
  ROUTES,
  RunParams,
  WatchExecutionQuery,
  type ExecutionView,
} from '@fleet/protocol';
import { enforceRun } from '../leasing';
import { requestSignal, stopwatch } from '../long-poll';
import { planExecution } from '../planning';
import { executionKey } from '../wakeups';
import type { RouteContext } from './context';

/** Plans of 100,000 tasks are allowed; their JSON is far above fastify's 1 MiB default. */
const PLAN_BODY_LIMIT = 256 * 1024 * 1024;

const notFound = (executionId: string): NotFoundError => new NotFoundError(`execution ${executionId} not found`);

export function registerExecutionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, clock } = ctx.deps;

  app.post<{ Params: RunParams; Body: CreateExecutionRequest }>(
    ROUTES.createExecution.url,
    { schema: { params: RunParams, body: CreateExecutionRequest }, bodyLimit: PLAN_BODY_LIMIT },
    async (request): Promise<ExecutionView> => {
      const { view, created } = await planExecution(ctx.deps, request.params.runId, request.body);
      if (created) ctx.wakeups.wakeRun(request.params.runId);
      return view;
    },
  );

  app.get<{ Params: ExecutionParams; Querystring: WatchExecutionQuery }>(
    ROUTES.getExecution.url,
    { schema: { params: ExecutionParams, querystring: WatchExecutionQuery } },
    async (request, reply): Promise<ExecutionView> => {
      const { executionId } = request.params;
      const since = request.query.since ?? -1;
      const waitMs = request.query.waitMs ?? 0;
      const elapsed = stopwatch();
      const signal = requestSignal(reply, ctx.shutdown);
      for (;;) {
        // listening from before the reads (see Watch), so a completion in the meantime is not missed
        const watch = ctx.wakeups.watch([executionKey(executionId)]);
        try {
          // a watch is main's contact too: it counts before the time-outs are applied
          if (!(await state.heartbeatExecution(executionId, clock.now()))) throw notFound(executionId);
          const ref = await state.getExecutionRef(executionId);
          if (ref === null) throw notFound(executionId);
          await enforceRun(ctx, ref.runId);
          const current = await state.getExecutionRef(executionId);
          const left = waitMs - elapsed();
          if ((current?.version ?? 0) > since || left <= 0 || signal.aborted) {
            await state.heartbeatExecution(executionId, clock.now());
            const view = await state.getExecution(executionId, clock.now());
            if (view === null) throw notFound(executionId);
            return view;
          }
          const nextExpiry = await state.nextLeaseExpiry(ref.runId);
          const untilExpiry = nextExpiry === null ? left : Math.max(1, nextExpiry - clock.now() + 1);
          await watch.wait(Math.min(left, untilExpiry), signal);
        } finally {
          watch.stop();
        }
      }
    },
  );

  app.post<{ Params: ExecutionParams; Body: ReportHashRequest }>(
    ROUTES.reportHash.url,
    { schema: { params: ExecutionParams, body: ReportHashRequest } },
    async (request, reply) => {
      const { executionId } = request.params;
      const outcome = await state.reportHash(executionId, request.body.taskId, request.body.hash);
      if (outcome !== 'unknown_execution') await state.heartbeatExecution(executionId, clock.now());
      switch (outcome) {
        case 'unknown_execution':
          throw notFound(executionId);
        case 'unknown_task':
          throw new NotFoundError(`execution ${executionId} has no task ${request.body.taskId}`);
        case 'stored':
          ctx.wakeups.wakeExecution(executionId);
          break;
        case 'unchanged':
          break;
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${String(never)}`);
        }
      }
      return reply.code(204).send();
    },
  );

  app.post<{ Params: ExecutionParams }>(
    ROUTES.heartbeatExecution.url,
    { schema: { params: ExecutionParams } },
    async (request, reply) => {
      const found = await state.heartbeatExecution(request.params.executionId, clock.now());
      if (!found) throw notFound(request.params.executionId);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: ExecutionParams; Body: FinishExecutionRequest }>(
    ROUTES.finishExecution.url,
    { schema: { params: ExecutionParams, body: FinishExecutionRequest } },
    async (request): Promise<ExecutionView> => {
      const { executionId } = request.params;
      const view = await state.finishExecution(executionId, request.body.status, clock.now());
      const ref = await state.getExecutionRef(executionId);
      if (view === null || ref === null) throw notFound(executionId);
      ctx.wakeups.wakeExecution(executionId);
      ctx.wakeups.wakeRun(ref.runId);
      return view;
    },
  );
}
