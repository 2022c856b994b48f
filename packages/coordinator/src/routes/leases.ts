import type { FastifyInstance } from 'fastify';
import { NotFoundError, NotOwnerError } from '@fleet/core';
import {
  CompleteLeaseRequest,
  LeaseHeartbeatRequest,
  LeaseParams,
  ReleaseLeaseRequest,
  ROUTES,
  type CompleteLeaseResponse,
} from '@fleet/protocol';
import { leaseLoop } from '../leasing';
import { requestSignal } from '../long-poll';
import type { RouteContext } from './context';

const inactive = (leaseId: string): NotFoundError =>
  new NotFoundError(`lease ${leaseId} is not active (unknown, expired, completed or cancelled)`);

export function registerLeaseRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, clock, config } = ctx.deps;

  app.post<{ Params: LeaseParams; Body: LeaseHeartbeatRequest }>(
    ROUTES.heartbeatLease.url,
    { schema: { params: LeaseParams, body: LeaseHeartbeatRequest } },
    async (request, reply) => {
      const { leaseId } = request.params;
      const outcome = await state.heartbeatLease(leaseId, request.body.agentName, clock.now(), config.leaseMs);
      switch (outcome.kind) {
        case 'extended':
          return reply.code(204).send();
        case 'unknown_lease':
          throw inactive(leaseId);
        case 'not_owner':
          throw new NotOwnerError(`lease ${leaseId} belongs to agent ${outcome.owner}, not ${request.body.agentName}`);
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    },
  );

  // an agent that stops hands the task back: ready again at once, not counted as a loss
  app.post<{ Params: LeaseParams; Body: ReleaseLeaseRequest }>(
    ROUTES.releaseLease.url,
    { schema: { params: LeaseParams, body: ReleaseLeaseRequest } },
    async (request, reply) => {
      const { leaseId } = request.params;
      const outcome = await state.releaseLease(leaseId, request.body.agentName, clock.now());
      switch (outcome.kind) {
        case 'released':
          ctx.deps.reporter.info(`lease ${leaseId} handed back by ${request.body.agentName}`, { reason: request.body.reason });
          ctx.wakeups.wakeExecution(outcome.executionId);
          ctx.wakeups.wakeRun(outcome.runId);
          return reply.code(204).send();
        case 'not_current':
          return reply.code(204).send();
        case 'unknown_lease':
          throw new NotFoundError(`lease ${leaseId} is unknown`);
        case 'not_owner':
          throw new NotOwnerError(`lease ${leaseId} belongs to agent ${outcome.owner}, not ${request.body.agentName}`);
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    },
  );

  app.post<{ Params: LeaseParams; Body: CompleteLeaseRequest }>(
    ROUTES.completeLease.url,
    { schema: { params: LeaseParams, body: CompleteLeaseRequest } },
    async (request, reply): Promise<CompleteLeaseResponse> => {
      const { leaseId } = request.params;
      const body = request.body;
      const outcome = await state.completeLease(
        leaseId,
        {
          agentName: body.agentName,
          hash: body.hash,
          exitCode: body.exitCode,
          durationMs: body.durationMs,
          message: body.message ?? null,
          log: body.log ?? null,
        },
        clock.now(),
      );
      switch (outcome.kind) {
        case 'unknown_lease':
          throw new NotFoundError(`lease ${leaseId} is unknown`);
        case 'not_owner':
          throw new NotOwnerError(`lease ${leaseId} belongs to agent ${outcome.owner}, not ${body.agentName}`);
        case 'done':
          if (outcome.accepted) {
            ctx.wakeups.wakeExecution(outcome.executionId);
            ctx.wakeups.wakeRun(outcome.runId);
          }
          if (body.leaseNext !== true) return { accepted: outcome.accepted, taskStatus: outcome.taskStatus };
          if (outcome.repeated === true) {
            // a retry after a lost answer has no second effect: no second lease either (the agent
            // long-polls; a lease the lost answer carried expires and goes back to the queue)
            return { accepted: outcome.accepted, taskStatus: outcome.taskStatus, next: { action: 'wait', retryInMs: 0 } };
          }
          {
            // the agent's next lease in the same round trip, never held: same answer as POST .../lease with waitMs 0
            const signal = requestSignal(reply, ctx.shutdown);
            const next = await leaseLoop(ctx, outcome.runId, { agentName: body.agentName, waitMs: 0 }, signal);
            return { accepted: outcome.accepted, taskStatus: outcome.taskStatus, next };
          }
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    },
  );
}
