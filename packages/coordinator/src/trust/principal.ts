import type { RouteScope, TokenScope } from '@fleet/protocol';

/** Who a request comes from, as its bearer token says. */
export interface Principal {
  /** `server` for the coordinator's own token (serve --token / FLEET_TOKEN). */
  readonly tokenId: string;
  readonly scope: TokenScope;
  /** The workspace its runs, executions and artifacts live in. */
  readonly workspace: string;
  /** Only the server's token manages the tokens of every workspace. */
  readonly allWorkspaces: boolean;
  /** Its writes never reach the shared namespace, whatever branch it declares. */
  readonly branchScoped: boolean;
}

export const SERVER_TOKEN_ID = 'server';

const RANK: Record<TokenScope, number> = { 'read-only': 1, 'read-write': 2, admin: 3 };
const NEEDS: Record<RouteScope, number> = { public: 0, read: 1, write: 2, admin: 3 };

/** Whether a token of `scope` may call a route of `route` scope (each scope includes the ones below it). */
export function scopeAllows(scope: TokenScope, route: RouteScope): boolean {
  return RANK[scope] >= NEEDS[route];
}

/** The scope a route needs, in words, for 403 messages. */
export function describeNeed(route: RouteScope): string {
  switch (route) {
    case 'public':
      return 'no token';
    case 'read':
      return 'any token';
    case 'write':
      return 'a read-write or admin token';
    case 'admin':
      return 'an admin token';
  }
}
