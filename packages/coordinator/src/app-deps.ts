import type { Clock, IdGenerator } from '@fleet/core';
import type { BlobStore } from './blobs/blob-store';
import type { ResolvedServerConfig } from './config';
import type { Reporter } from './reporter';
import type { StateStore } from './state/state-store';

/** Everything createApp needs; main.ts builds the real ones, tests their own. */
export interface AppDeps {
  readonly state: StateStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: Pick<ResolvedServerConfig, 'token' | 'leaseMs' | 'maxArtifactBytes' | 'maxAttempts'>;
  readonly reporter: Reporter;
}
