import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_WORKSPACE, ROUTES, type RouteScope } from '@fleet/protocol';
import type { StateStore } from '../state/state-store';
import { describeNeed, scopeAllows, SERVER_TOKEN_ID, type Principal } from '../trust/principal';
import { secretDigest } from '../trust/tokens';
import { sendError } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every route but the public ones. */
    principal: Principal | null;
  }
}

/** What the coordinator's own token (serve --token / FLEET_TOKEN) is: admin of every workspace. */
const SERVER_PRINCIPAL: Principal = {
  tokenId: SERVER_TOKEN_ID,
  scope: 'admin',
  workspace: DEFAULT_WORKSPACE,
  allWorkspaces: true,
  branchScoped: false,
};

const ROUTE_SCOPES = new Map<string, RouteScope>(
  Object.values(ROUTES).map((route) => [`${route.method} ${route.url}`, route.scope]),
);

/** The scope of the matched route; a request that matches none (a 404) still needs a token. */
function scopeOf(request: FastifyRequest): RouteScope {
  const url = request.routeOptions.url;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  return (url === undefined ? undefined : ROUTE_SCOPES.get(`${method} ${url}`)) ?? 'read';
}

function bearer(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(\S{1,4096})[ \t]*$/i.exec(header);
  return match === null ? null : (match[1] as string);
}

/**
 * Bearer tokens on every route but the public ones: the server's own token (compared in
 * constant time) or a token created with `nx-fleet token create`, looked up by the sha256
 * of its secret on every request, so a revocation holds from the next request on.
 * Messages name a token by its id, never by its secret.
 */
export function registerAuth(app: FastifyInstance, serverToken: string, state: StateStore): void {
  const serverDigest = Buffer.from(secretDigest(serverToken), 'hex');
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const needs = scopeOf(request);
    if (needs === 'public') return;
    const header = request.headers.authorization;
    if (header === undefined) {
      await sendError(reply, 401, { code: 'unauthorized', message: 'missing Authorization: Bearer <token> header' });
      return reply;
    }
    const secret = bearer(header);
    if (secret === null) {
      await sendError(reply, 401, { code: 'unauthorized', message: 'the Authorization header must be "Bearer <token>"' });
      return reply;
    }
    const digestHex = secretDigest(secret);
    let principal: Principal | null = null;
    if (timingSafeEqual(Buffer.from(digestHex, 'hex'), serverDigest)) {
      principal = SERVER_PRINCIPAL;
    } else {
      const record = await state.findTokenByDigest(digestHex);
      if (record === null) {
        await sendError(reply, 401, { code: 'unauthorized', message: 'invalid token' });
        return reply;
      }
      if (record.revokedAt !== null) {
        await sendError(reply, 401, {
          code: 'unauthorized',
          message: `token ${record.tokenId} was revoked at ${new Date(record.revokedAt).toISOString()}; create a new one with \`nx-fleet token create\``,
        });
        return reply;
      }
      principal = {
        tokenId: record.tokenId,
        scope: record.scope,
        workspace: record.workspace,
        allWorkspaces: false,
        branchScoped: record.branchScoped,
      };
    }
    if (!scopeAllows(principal.scope, needs)) {
      await sendError(reply, 403, {
        code: 'forbidden',
        message: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} needs ${describeNeed(needs)}; token ${principal.tokenId} is ${principal.scope}`,
      });
      return reply;
    }
    request.principal = principal;
  });
}

/** The principal of an authenticated request (routes only run after the auth hook). */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === null) throw new Error(`no principal on ${request.method} ${request.url}: the auth hook did not run`);
  return principal;
}
