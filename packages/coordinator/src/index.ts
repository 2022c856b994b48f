export { createApp } from './app';
export type { AppDeps } from './app-deps';
export { startServer, type RunningServer } from './main';
export {
  parseServerConfig,
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ARTIFACT_BYTES,
  DEFAULT_PORT,
  type ServerConfig,
  type ResolvedServerConfig,
} from './config';
export { silentReporter, type Reporter } from './reporter';
export type { StateStore } from './state/state-store';
export { SqliteStateStore } from './state/sqlite/sqlite-state-store';
export type { BlobStore, BlobKey } from './blobs/blob-store';
export { FsBlobStore } from './blobs/fs/fs-blob-store';
export { systemClock, randomIds } from './system';
export { COORDINATOR_VERSION } from './version';
