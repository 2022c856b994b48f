import { join } from 'node:path';
import type { FleetClient } from '../client/fleet-client';
import { IntegrityError } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { describeError } from '../util/errors';
import { newId } from '../util/ids';
import type { RelayHandler } from './relay-server';

/**
 * The plain remote cache: GETs and PUTs go to the coordinator's cache. A corrupt or cut
 * download is a miss (the task runs); a failed upload is a warning, never a failed task.
 */
export class CoordinatorCache implements RelayHandler {
  constructor(
    protected readonly client: FleetClient,
    protected readonly reporter: Reporter,
    protected readonly tmpDir: string,
  ) {}

  async get(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    return this.fetch(hash);
  }

  async put(hash: string, _scope: string | null, upload: { file: string; sha256: string; size: number }): Promise<void> {
    await this.store(hash, upload);
  }

  /** Downloads and verifies `hash`; null on a miss or on any fault (reported). */
  async fetch(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    const file = join(this.tmpDir, `get-${newId()}`);
    try {
      const got = await this.client.downloadArtifact(hash, file);
      return got ? { file, temporary: true } : null;
    } catch (error) {
      const what = error instanceof IntegrityError ? 'is corrupt' : 'could not be downloaded';
      this.reporter.warn(`cache entry ${hash} ${what}; treating it as a miss: ${describeError(error)}`);
      return null;
    }
  }

  async store(hash: string, upload: { file: string; sha256: string }): Promise<boolean> {
    try {
      await this.client.uploadArtifact(hash, upload.file, upload.sha256);
      return true;
    } catch (error) {
      this.reporter.warn(`could not store cache entry ${hash} in Fleet (the task's own result stands): ${describeError(error)}`);
      return false;
    }
  }
}
