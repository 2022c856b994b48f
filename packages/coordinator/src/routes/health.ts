import type { FastifyInstance } from 'fastify';
import { PROTOCOL_VERSION, ROUTES, type Health } from '@fleet/protocol';
import { COORDINATOR_VERSION } from '../version';

export function registerHealthRoute(app: FastifyInstance): void {
  app.get(ROUTES.health.url, async (): Promise<Health> => ({
    ok: true,
    protocolVersion: PROTOCOL_VERSION,
    version: COORDINATOR_VERSION,
  }));
}
