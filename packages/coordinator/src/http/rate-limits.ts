import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FleetError } from '@fleet/core';
import { ROUTES } from '@fleet/protocol';
import type { AppDeps } from '../app-deps';
import { sendError } from './errors';

const LONG_POLLS = new Set<string>([`${ROUTES.lease.method} ${ROUTES.lease.url}`, `${ROUTES.getExecution.method} ${ROUTES.getExecution.url}`]);

/** Who a request counts against: its token (the auth hook ran first), else its address. */
function keyOf(request: FastifyRequest): string {
  return request.principal === null ? `ip:${request.ip}` : `token:${request.principal.tokenId}`;
}

/**
 * Per-token limits (docs/security.md): requests per minute (@fastify/rate-limit, 429 with
 * retry-after; clients back off and retry), and long-polls held open at once, so that one
 * token cannot hold every socket of the coordinator.
 */
export function registerRateLimits(
  app: FastifyInstance,
  config: Pick<AppDeps['config'], 'rateLimitPerMinute' | 'maxLongPollsPerToken'>,
): void {
  if (config.rateLimitPerMinute > 0) {
    void app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: keyOf,
      allowList: (request) => request.routeOptions.url === ROUTES.health.url,
      errorResponseBuilder: (_request, context) =>
        new FleetError(
          'rate_limited',
          `more than ${context.max} requests in a minute from this token (serve --rate-limit); retry in ${context.after}`,
        ),
    });
  }
  const open = new Map<string, number>();
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!LONG_POLLS.has(`${request.method} ${request.routeOptions.url}`)) return;
    const key = keyOf(request);
    const count = open.get(key) ?? 0;
    if (count >= config.maxLongPollsPerToken) {
      reply.header('retry-after', '1');
      await sendError(reply, 429, {
        code: 'rate_limited',
        message: `this token already holds ${count} long-polls open (the limit is ${config.maxLongPollsPerToken}, serve --max-long-polls); retry shortly`,
      });
      return reply;
    }
    open.set(key, count + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  });
}
