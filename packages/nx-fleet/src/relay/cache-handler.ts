import { closeSync, openSync, readSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FleetClient } from '../client/fleet-client';
import { IntegrityError } from '../client/fleet-client';
import { ENCRYPTION_MAGIC } from '../client/encryption';
import type { Reporter } from '../reporter';
import { inspectArchive, type ArchiveSummary } from '../replay/archive';
import { describeError } from '../util/errors';
import { newId } from '../util/ids';
import type { RelayHandler } from './relay-server';

export interface Upload {
  file: string;
  sha256: string;
  size: number;
}

/**
 * The plain remote cache: GETs and PUTs go to the coordinator's cache. A corrupt or cut
 * download is a miss (the task runs); a failed upload is a warning, never a failed task.
 *
 * Failures never live under a task's hash: Nx 20.8 restores an HTTP cache entry whose
 * `code` is non-zero as a success (seen on 20.8.4), so a stored failure would turn a red
 * task green on the next run. PUTs of failures go to `putFailure`; GETs of entries that
 * hold a failure anyway (written by some other client) are misses.
 */
export class CoordinatorCache implements RelayHandler {
  constructor(
    protected readonly client: FleetClient,
    protected readonly reporter: Reporter,
    protected readonly tmpDir: string,
  ) {}

  async get(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    return this.fetchSuccess(hash);
  }

  async put(hash: string, scope: string | null, upload: Upload): Promise<void> {
    const code = summarize(upload.file).code;
    if (code !== 0) return this.putFailure(hash, scope, upload, code);
    await this.putSuccess(hash, scope, upload);
  }

  protected async putSuccess(hash: string, _scope: string | null, upload: Upload): Promise<void> {
    await this.store(hash, upload);
  }

  /** What to do with a failed task's result; outside a run, nothing: failures are not cached. */
  protected async putFailure(hash: string, _scope: string | null, _upload: Upload, code: number | null): Promise<void> {
    this.reporter.debug(`not caching ${hash}: the task failed (code ${code ?? 'unreadable'})`);
  }

  /** A verified artifact that holds a success, or null. */
  async fetchSuccess(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    const found = await this.fetch(hash);
    if (!found) return null;
    if (startsWithEncryptionMagic(found.file)) {
      // only a client without FLEET_ENCRYPTION_KEY gets here: one with it has decrypted the blob
      this.reporter.warn(
        `cache entry ${hash} is encrypted (written with FLEET_ENCRYPTION_KEY) and this job has no key; treating it as a miss ` +
          '(set the same FLEET_ENCRYPTION_KEY on every job that shares the cache)',
      );
      await rm(found.file, { force: true });
      return null;
    }
    const summary = summarize(found.file);
    if (summary.problems.length > 0) {
      // Nx 21+ unpacks archives itself: an unsafe one must never reach it
      const shown = summary.problems.slice(0, 3).map((p) => `${p.entry} (${p.reason})`);
      const more = summary.problems.length > shown.length ? ` and ${summary.problems.length - shown.length} more` : '';
      this.reporter.warn(
        `cache entry ${hash} is an unsafe archive, treating it as a miss: entry ${shown.join(', ')}${more}`,
      );
      await rm(found.file, { force: true });
      return null;
    }
    if (summary.code !== 0) {
      this.reporter.warn(`cache entry ${hash} holds a failed result (code ${summary.code ?? 'unreadable'}); treating it as a miss`);
      await rm(found.file, { force: true });
      return null;
    }
    if (summary.backslashNames.length > 0) {
      // Nx would unpack `dist\a\x.js` as one oddly named file: a hit that restores no output
      this.reporter.warn(
        `cache entry ${hash} was archived with Windows path separators (e.g. ${summary.backslashNames[0]}); ` +
          'it cannot be restored here, treating it as a miss',
      );
      await rm(found.file, { force: true });
      return null;
    }
    return found;
  }

  /** Downloads and verifies `key`; null on a miss or on any fault (reported). */
  async fetch(key: string): Promise<{ file: string; temporary: boolean } | null> {
    const file = join(this.tmpDir, `get-${newId()}`);
    try {
      const got = await this.client.downloadArtifact(key, file);
      return got ? { file, temporary: true } : null;
    } catch (error) {
      const what = error instanceof IntegrityError ? 'is corrupt' : 'could not be downloaded';
      this.reporter.warn(`cache entry ${key} ${what}; treating it as a miss: ${describeError(error)}`);
      return null;
    }
  }

  async store(key: string, upload: { file: string; sha256: string }): Promise<boolean> {
    try {
      await this.client.uploadArtifact(key, upload.file, upload.sha256);
      return true;
    } catch (error) {
      this.reporter.warn(`could not store cache entry ${key} in Fleet (the task's own result stands): ${describeError(error)}`);
      return false;
    }
  }
}

/**
 * The exit code, odd entry names and safety problems of an Nx cache archive, in one read;
 * code null when it has none or cannot be read.
 */
function summarize(file: string): ArchiveSummary {
  try {
    return inspectArchive(file);
  } catch {
    return { code: null, backslashNames: [], problems: [] }; // not a readable archive: it cannot be a success either
  }
}

/** Whether a downloaded blob is Fleet ciphertext (client/encryption.ts) rather than an Nx archive. */
function startsWithEncryptionMagic(file: string): boolean {
  const head = Buffer.alloc(ENCRYPTION_MAGIC.length);
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(ENCRYPTION_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
