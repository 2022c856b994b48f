import { randomUUID } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestError, isFleetError } from '@fleet/core';
import type { BlobKey, BlobStore, BlobWriteLimits, StoredBlob } from '../blob-store';
import { MeteringStream } from '../metering';

function isErrno(error: unknown, code: string): boolean {
  // Structural, not instanceof: errors may come from another realm (jest's sandbox).
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Files under `<root>/<namespace>/<hash>`. Uploads go to `<root>/.tmp/` first and are
 * renamed into place once complete and verified, so a partial upload is never visible.
 */
export class FsBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  private pathOf(key: BlobKey): string {
    const parts = key.split('/');
    if (parts.length !== 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw new BadRequestError(`invalid blob key ${key}`);
    }
    return join(this.root, ...parts);
  }

  async write(key: BlobKey, source: Readable, limits: BlobWriteLimits): Promise<StoredBlob> {
    const final = this.pathOf(key);
    const tmpDir = join(this.root, '.tmp');
    await fsp.mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${randomUUID()}.part`);
    const meter = new MeteringStream(limits);
    try {
      await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx' }));
      const sha256 = meter.digest();
      if (limits.expectedSha256 !== null && limits.expectedSha256.toLowerCase() !== sha256) {
        throw new BadRequestError(
          `sha256 mismatch: the header says ${limits.expectedSha256}, the body hashes to ${sha256}; nothing was stored`,
        );
      }
      await fsp.mkdir(join(final, '..'), { recursive: true });
      await fsp.rename(tmp, final);
      return { sha256, size: meter.bytes };
    } catch (error) {
      await fsp.rm(tmp, { force: true });
      if (isFleetError(error)) throw error;
      throw new BadRequestError('upload did not complete (connection closed or aborted); nothing was stored', {
        cause: error,
      });
    }
  }

  async read(key: BlobKey): Promise<{ stream: Readable; size: number } | null> {
    const path = this.pathOf(key);
    try {
      const handle = await fsp.open(path, 'r');
      try {
        const { size } = await handle.stat();
        return { stream: handle.createReadStream(), size };
      } catch (error) {
        await handle.close();
        throw error;
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async delete(key: BlobKey): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }
}

