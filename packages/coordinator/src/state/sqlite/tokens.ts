import type { TokenScope } from '@fleet/protocol';
import type { TokenRecord } from '../state-store';
import type { Sql } from './sql';

interface TokenRow {
  token_id: string;
  secret_sha256: string;
  scope: string;
  workspace: string;
  label: string | null;
  branch_scoped: number;
  created_at: number;
  revoked_at: number | null;
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    tokenId: row.token_id,
    secretSha256: row.secret_sha256,
    scope: row.scope as TokenScope,
    workspace: row.workspace,
    label: row.label,
    branchScoped: row.branch_scoped === 1,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export function insertToken(sql: Sql, token: TokenRecord): void {
  sql.run(
    `INSERT INTO tokens (token_id, secret_sha256, scope, workspace, label, branch_scoped, created_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    token.tokenId,
    token.secretSha256,
    token.scope,
    token.workspace,
    token.label,
    token.branchScoped ? 1 : 0,
    token.createdAt,
    token.revokedAt,
  );
}

export function findTokenByDigest(sql: Sql, digest: string): TokenRecord | null {
  const row = sql.get<TokenRow>('SELECT * FROM tokens WHERE secret_sha256 = ?', digest);
  return row === undefined ? null : toRecord(row);
}

export function listTokens(sql: Sql, workspace: string | null): TokenRecord[] {
  const rows =
    workspace === null
      ? sql.all<TokenRow>('SELECT * FROM tokens ORDER BY created_at, token_id')
      : sql.all<TokenRow>('SELECT * FROM tokens WHERE workspace = ? ORDER BY created_at, token_id', workspace);
  return rows.map(toRecord);
}

/** Revokes once (a repeat keeps the first time); null when unknown or of another workspace. */
export function revokeToken(sql: Sql, tokenId: string, workspace: string | null, now: number): TokenRecord | null {
  return sql.tx(() => {
    const row = sql.get<TokenRow>('SELECT * FROM tokens WHERE token_id = ?', tokenId);
    if (row === undefined || (workspace !== null && row.workspace !== workspace)) return null;
    sql.run('UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?', now, tokenId);
    return toRecord(sql.get<TokenRow>('SELECT * FROM tokens WHERE token_id = ?', tokenId) as TokenRow);
  });
}
