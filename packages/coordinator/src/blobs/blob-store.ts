/**
 * The artifact bytes port. Keys are always POSIX `namespace/hash`, whatever the OS.
 * Digest and size bookkeeping live in the StateStore (`blobs` table); the blob store
 * only moves bytes, but it computes the digest while writing and refuses to publish
 * an incomplete or mismatching upload.
 */
import type { Readable } from 'node:stream';

export const DEFAULT_NAMESPACE = 'default';

export type BlobKey = `${string}/${string}`;

export function blobKey(namespace: string, hash: string): BlobKey {
  return `${namespace}/${hash}`;
}

export interface BlobWriteLimits {
  /** The declared Content-Length; any other byte count is refused. */
  readonly expectedBytes: number;
  readonly maxBytes: number;
  /** When the client declared one, the digest must match. */
  readonly expectedSha256: string | null;
}

export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
}

export interface BlobStore {
  /**
   * Streams `source` into a hidden temporary object and publishes it under `key` only
   * when complete and matching. Throws a FleetError (bad_request, payload_too_large)
   * and leaves nothing behind otherwise. Overwrites: callers guard uniqueness.
   */
  write(key: BlobKey, source: Readable, limits: BlobWriteLimits): Promise<StoredBlob>;
  /** Null when there is no such blob. */
  read(key: BlobKey): Promise<{ stream: Readable; size: number } | null>;
  delete(key: BlobKey): Promise<void>;
}
