import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ROUTES } from '@fleet/protocol';
import { sendError } from './errors';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time bearer check on every route but GET /healthz. */
export function registerAuth(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method === ROUTES.health.method && request.routeOptions.url === ROUTES.health.url) return;
    const header = request.headers.authorization;
    if (header === undefined) {
      await sendError(reply, 401, { code: 'unauthorized', message: 'missing Authorization: Bearer <token> header' });
      return reply;
    }
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match === null || !timingSafeEqual(digest((match[1] as string).trim()), expected)) {
      await sendError(reply, 401, { code: 'unauthorized', message: 'invalid token' });
      return reply;
    }
  });
}
