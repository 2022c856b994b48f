import type { FastifyInstance } from 'fastify';
import { FleetError, NotFoundError } from '@fleet/core';
import { CreateTokenRequest, ROUTES, TokenParams, type CreatedToken, type TokenList, type TokenView } from '@fleet/protocol';
import { principalOf } from '../http/auth';
import type { TokenRecord } from '../state/state-store';
import { newTokenId, newTokenSecret, secretDigest } from '../trust/tokens';
import type { RouteContext } from './context';

function viewOf(record: TokenRecord): TokenView {
  const { secretSha256: _secret, ...view } = record;
  return view;
}

/**
 * Token management (admin tokens only, checked by the auth hook). The server's own token
 * manages every workspace; an admin token created for a workspace manages that one only.
 * A secret is returned once, when created, and stored only as its sha256.
 */
export function registerTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, clock, reporter } = ctx.deps;

  app.post<{ Body: CreateTokenRequest }>(
    ROUTES.createToken.url,
    { schema: { body: CreateTokenRequest } },
    async (request): Promise<CreatedToken> => {
      const principal = principalOf(request);
      const workspace = request.body.workspace ?? principal.workspace;
      if (!principal.allWorkspaces && workspace !== principal.workspace) {
        throw new FleetError(
          'forbidden',
          `token ${principal.tokenId} is an admin of workspace ${principal.workspace} only; it cannot create tokens for ${workspace}`,
        );
      }
      if (principal.branchScoped && request.body.branchScoped === false) {
        throw new FleetError(
          'forbidden',
          `token ${principal.tokenId} is branch-scoped; the tokens it creates are branch-scoped too (leave out branchScoped: false)`,
        );
      }
      const secret = newTokenSecret();
      const record: TokenRecord = {
        tokenId: newTokenId(),
        secretSha256: secretDigest(secret),
        scope: request.body.scope,
        workspace,
        label: request.body.label ?? null,
        // a branch-scoped admin cannot mint its way out of the scoping
        branchScoped: principal.branchScoped || (request.body.branchScoped ?? false),
        createdAt: clock.now(),
        revokedAt: null,
      };
      await state.insertToken(record);
      reporter.info(`token ${record.tokenId} created`, {
        scope: record.scope,
        workspace,
        by: principal.tokenId,
        branchScoped: record.branchScoped,
      });
      return { token: secret, view: viewOf(record) };
    },
  );

  app.get(ROUTES.listTokens.url, async (request): Promise<TokenList> => {
    const principal = principalOf(request);
    const tokens = await state.listTokens(principal.allWorkspaces ? null : principal.workspace);
    return { tokens: tokens.map(viewOf) };
  });

  app.delete<{ Params: TokenParams }>(
    ROUTES.revokeToken.url,
    { schema: { params: TokenParams } },
    async (request): Promise<TokenView> => {
      const principal = principalOf(request);
      const { tokenId } = request.params;
      const revoked = await state.revokeToken(tokenId, principal.allWorkspaces ? null : principal.workspace, clock.now());
      if (revoked === null) throw new NotFoundError(`token ${tokenId} not found`);
      reporter.info(`token ${tokenId} revoked`, { by: principal.tokenId });
      return viewOf(revoked);
    },
  );
}
