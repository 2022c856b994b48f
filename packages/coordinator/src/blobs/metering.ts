import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BadRequestError, PayloadTooLargeError } from '@fleet/core';
import type { BlobWriteLimits } from './blob-store';

/** Counts and hashes bytes on their way through; fails as soon as a limit is crossed. */
export class MeteringStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly limits: BlobWriteLimits) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxBytes) {
      callback(new PayloadTooLargeError(`artifact is larger than the limit of ${this.limits.maxBytes} bytes`));
      return;
    }
    if (this.bytes > this.limits.expectedBytes) {
      callback(new BadRequestError(`body is longer than its Content-Length of ${this.limits.expectedBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.limits.expectedBytes) {
      callback(
        new BadRequestError(
          `body has ${this.bytes} bytes but its Content-Length is ${this.limits.expectedBytes}; nothing was stored`,
        ),
      );
      return;
    }
    callback();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Passes bytes through while hashing them, but holds back the last chunk until the
 * digest is known: on a mismatch it fails instead, so the reader never receives all
 * Content-Length bytes of a corrupt blob.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private held: Buffer | null = null;
  private bytes = 0;

  constructor(
    private readonly expectedSha256: string,
    private readonly expectedBytes: number,
    private readonly onMismatch: (actual: string, bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const previous = this.held;
    this.held = chunk;
    callback(null, previous ?? undefined);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.expectedSha256 || this.bytes !== this.expectedBytes) {
      this.onMismatch(actual, this.bytes);
      callback(new Error(`stored blob is corrupt: sha256 ${actual} (${this.bytes} bytes), recorded ${this.expectedSha256}`));
      return;
    }
    if (this.held !== null) this.push(this.held);
    callback();
  }
}
