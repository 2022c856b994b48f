import type { Clock, IdGenerator } from '@fleet/core';
import type { BlobStore } from './blobs/blob-store';
import type { ResolvedServerConfig } from './config';
import type { Reporter } from './reporter';
import type { StateStore } from './state/state-store';
import type { Ticker } from './sweeper';

/** Everything createApp needs; main.ts builds the real ones, tests their own. */
export interface AppDeps {
  readonly state: StateStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: Pick<
    ResolvedServerConfig,
    | 'token'
    | 'leaseMs'
    | 'maxArtifactBytes'
    | 'leaseRetries'
    | 'mainSilenceMs'
    | 'runTimeoutMs'
    | 'taskTimeoutMs'
    | 'sweepIntervalMs'
    | 'noAgentMs'
    | 'trustedBranches'
    | 'rateLimitPerMinute'
    | 'maxLongPollsPerToken'
  >;
  readonly reporter: Reporter;
  /** Runs the sweeper every config.sweepIntervalMs; default: an unref'd setInterval. Tests pass a manual one. */
  readonly ticker?: Ticker;
}
