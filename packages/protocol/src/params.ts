/**
 * Schemas of the `:params` in ROUTES' urls, so servers validate ids with the same
 * patterns as bodies. (Added with the coordinator; additive.)
 */
import { Type, type Static } from '@sinclair/typebox';
import { Hash, OpaqueId, RunId, TokenId } from './schemas';

const Strict = { additionalProperties: false } as const;

export const RunParams = Type.Object({ runId: RunId }, Strict);
export type RunParams = Static<typeof RunParams>;

export const ExecutionParams = Type.Object({ executionId: OpaqueId }, Strict);
export type ExecutionParams = Static<typeof ExecutionParams>;

export const LeaseParams = Type.Object({ leaseId: OpaqueId }, Strict);
export type LeaseParams = Static<typeof LeaseParams>;

export const CacheParams = Type.Object({ hash: Hash }, Strict);
export type CacheParams = Static<typeof CacheParams>;

export const TokenParams = Type.Object({ tokenId: TokenId }, Strict);
export type TokenParams = Static<typeof TokenParams>;
