import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { request } from 'undici';
import {
  CompleteLeaseResponse,
  CreatedToken,
  ExecutionView,
  HEADER_BRANCH,
  HEADER_SHA256,
  Health,
  MAX_BRANCH_LENGTH,
  LeaseResponse,
  RunHeartbeatResponse,
  RunView,
  routePath,
  TokenList,
  TokenView,
  type CompleteLeaseRequest,
  type CreateExecutionRequest,
  type CreateRunRequest,
  type CreateTokenRequest,
  type FinishExecutionRequest,
} from '@fleet/protocol';
import { FleetError } from '../util/errors';
import { newId } from '../util/ids';
import { DecryptionError, decryptFile, encryptFile, type EncryptionKey } from './encryption';
import { JsonHttp, httpError, type HttpOptions } from './http';
import { DEFAULT_RETRY, NO_RETRY, type RetryPolicy } from './retry';

export interface ClientOptions {
  url: string;
  token: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
  /**
   * The branch this job builds (resolveBranch, or the run's): sent with every cache request
   * so that the coordinator scopes writes to it unless it is a trusted branch.
   */
  branch?: string;
  /**
   * FLEET_ENCRYPTION_KEY: artifacts are encrypted before upload and decrypted after
   * download (AES-256-GCM); the coordinator only ever holds ciphertext.
   */
  encryptionKey?: EncryptionKey;
}

export interface DownloadedArtifact {
  file: string;
  sha256: string;
  size: number;
}

/**
 * Stream buffers of an artifact download (instead of Node's 64 KiB): the socket's chunks
 * queue up while a file write is in flight and go to disk as one writev, so the client
 * spends less CPU per byte (tools/bench/artifacts.js). Bounded: memory stays a few MiB
 * whatever the artifact's size.
 */
const TRANSFER_BUFFER_BYTES = 1024 * 1024;

/** Long-polls are held by the server for at most this long: below common proxy idle cuts. */
export const LONG_POLL_MS = 20_000;

/** The typed client of every coordinator route. */
export class FleetClient {
  readonly http: JsonHttp;

  constructor(readonly options: ClientOptions) {
    this.http = new JsonHttp(options.url, options.token, {
      retry: options.retry ?? DEFAULT_RETRY,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
  }

  get url(): string {
    return this.options.url;
  }

  /** The same client for the cache requests of another branch (an agent takes its run's). */
  withBranch(branch: string | undefined): FleetClient {
    return new FleetClient({ ...this.options, branch });
  }

  /** Auth and, when known, the branch: the headers of the cache routes. */
  private cacheHeaders(): Record<string, string> {
    const branch = branchHeaderValue(this.options.branch);
    return { ...this.http.authHeaders(), ...(branch ? { [HEADER_BRANCH]: branch } : {}) };
  }

  health(options?: HttpOptions): Promise<Health> {
    return this.http.call('GET', routePath('health'), Health, undefined, options);
  }

  createRun(body: CreateRunRequest): Promise<RunView> {
    return this.http.call('POST', routePath('createRun'), RunView, body);
  }

  getRun(runId: string, options?: HttpOptions): Promise<RunView> {
    return this.http.call('GET', routePath('getRun', { runId }), RunView, undefined, options);
  }

  completeRun(runId: string, reason?: string): Promise<RunView> {
    return this.http.call('POST', routePath('completeRun', { runId }), RunView, reason ? { reason } : {});
  }

  joinRun(runId: string, agentName: string, parallel: number, options?: HttpOptions): Promise<RunView> {
    return this.http.call('POST', routePath('joinRun', { runId }), RunView, { agentName, parallel }, options);
  }

  lease(runId: string, agentName: string, waitMs = LONG_POLL_MS, options?: HttpOptions): Promise<LeaseResponse> {
    return this.http.call('POST', routePath('lease', { runId }), LeaseResponse, { agentName, waitMs }, {
      timeoutMs: waitMs + 10_000,
      ...options,
    });
  }

  createExecution(runId: string, body: CreateExecutionRequest): Promise<ExecutionView> {
    return this.http.call('POST', routePath('createExecution', { runId }), ExecutionView, body, { timeoutMs: 60_000 });
  }

  getExecution(executionId: string, since = -1, waitMs = 0, signal?: AbortSignal): Promise<ExecutionView> {
    const query = `?since=${since}&waitMs=${waitMs}`;
    return this.http.call('GET', routePath('getExecution', { executionId }) + query, ExecutionView, undefined, {
      timeoutMs: waitMs + 10_000,
      signal,
    });
  }

  reportHash(executionId: string, taskId: string, hash: string): Promise<void> {
    return this.http.send('POST', routePath('reportHash', { executionId }), { taskId, hash });
  }

  /** Main's heartbeat for the whole run (between and during its nx commands). */
  heartbeatRun(runId: string): Promise<RunHeartbeatResponse> {
    return this.http.call('POST', routePath('heartbeatRun', { runId }), RunHeartbeatResponse, {}, {
      retry: { ...DEFAULT_RETRY, maxAttempts: 3, maxTotalMs: 4_000 },
    });
  }

  heartbeatExecution(executionId: string): Promise<void> {
    return this.http.send('POST', routePath('heartbeatExecution', { executionId }), {});
  }

  finishExecution(executionId: string, status: FinishExecutionRequest['status']): Promise<ExecutionView> {
    return this.http.call('POST', routePath('finishExecution', { executionId }), ExecutionView, { status });
  }

  heartbeatLease(leaseId: string, agentName: string): Promise<void> {
    return this.http.send('POST', routePath('heartbeatLease', { leaseId }), { agentName }, {
      retry: { ...DEFAULT_RETRY, maxAttempts: 3, maxTotalMs: 5_000 },
    });
  }

  /** Gives a lease back (the agent is stopping); bounded retries, as the agent is on its way out. */
  releaseLease(leaseId: string, agentName: string, reason: string): Promise<void> {
    return this.http.send('POST', routePath('releaseLease', { leaseId }), { agentName, reason: reason.slice(0, 1000) }, {
      retry: { ...DEFAULT_RETRY, maxAttempts: 3, maxTotalMs: 5_000 },
    });
  }

  completeLease(leaseId: string, body: CompleteLeaseRequest): Promise<CompleteLeaseResponse> {
    return this.http.call('POST', routePath('completeLease', { leaseId }), CompleteLeaseResponse, body);
  }

  /**
   * Creates a token (admin). Not retried: a repeat after a lost answer would create a
   * second token whose secret nobody ever sees.
   */
  createToken(body: CreateTokenRequest): Promise<CreatedToken> {
    return this.http.call('POST', routePath('createToken'), CreatedToken, body, { retry: NO_RETRY });
  }

  /** The tokens the caller's admin token manages (never their secrets). */
  listTokens(): Promise<TokenList> {
    return this.http.call('GET', routePath('listTokens'), TokenList);
  }

  /** Revokes a token at once; revoking it again answers the same view. */
  revokeToken(tokenId: string): Promise<TokenView> {
    return this.http.call('DELETE', routePath('revokeToken', { tokenId }), TokenView);
  }

  /**
   * Downloads an artifact into `file`, checking its length and sha256 against what the
   * coordinator declared. Returns null on a miss. A mismatch or a cut download removes
   * the file and throws: the caller treats that as a miss, never as a hit.
   */
  async downloadArtifact(hash: string, file: string): Promise<DownloadedArtifact | null> {
    const key = this.options.encryptionKey;
    if (!key) return this.downloadBlob(hash, file);
    const blob = `${file}.enc-${newId()}`;
    try {
      if (!(await this.downloadBlob(hash, blob))) return null;
      try {
        return { file, ...(await decryptFile(key, hash, blob, file)) };
      } catch (error) {
        if (error instanceof DecryptionError) throw new IntegrityError(hash, error.message);
        throw error;
      }
    } finally {
      await rm(blob, { force: true });
    }
  }

  /** The blob as the coordinator holds it, length and sha256 checked. */
  private async downloadBlob(hash: string, file: string): Promise<DownloadedArtifact | null> {
    const path = routePath('getCache', { hash });
    return this.http.withRetry(`GET ${path}`, {}, async () => {
      const res = await request(this.http.url(path), {
        method: 'GET',
        headers: this.cacheHeaders(),
        headersTimeout: 30_000,
        bodyTimeout: 120_000,
        highWaterMark: TRANSFER_BUFFER_BYTES,
      });
      if (res.statusCode === 404) {
        await res.body.dump();
        return null;
      }
      if (res.statusCode !== 200) {
        throw httpError(this.url, 'GET', path, res.statusCode, await res.body.text());
      }
      const declaredSha = headerValue(res.headers[HEADER_SHA256]);
      const declaredLength = Number(headerValue(res.headers['content-length']) ?? NaN);
      const digest = createHash('sha256');
      let size = 0;
      const counter = new Transform({
        highWaterMark: TRANSFER_BUFFER_BYTES,
        transform(chunk: Buffer, _enc, cb): void {
          digest.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res.body, counter, createWriteStream(file, { highWaterMark: TRANSFER_BUFFER_BYTES }));
      } catch (error) {
        await rm(file, { force: true });
        throw new FleetError(`download of artifact ${hash} was cut short`, 'incomplete_download', { cause: error });
      }
      const sha256 = digest.digest('hex');
      if ((Number.isFinite(declaredLength) && size !== declaredLength) || (declaredSha && declaredSha !== sha256)) {
        await rm(file, { force: true });
        throw new IntegrityError(hash, `expected ${declaredLength} bytes sha256 ${declaredSha}, got ${size} bytes sha256 ${sha256}`);
      }
      return { file, sha256, size };
    });
  }

  /**
   * Uploads a file as the artifact `hash`. 'exists' when the coordinator already has it.
   * With an encryption key the ciphertext (a temporary file beside `file`) is what is
   * sent and declared; `sha256` is then not used.
   */
  async uploadArtifact(hash: string, file: string, sha256: string): Promise<'stored' | 'exists'> {
    const key = this.options.encryptionKey;
    if (!key) return this.uploadBlob(hash, file, sha256, (await stat(file)).size);
    const blob = `${file}.enc-${newId()}`;
    try {
      const encrypted = await encryptFile(key, hash, file, blob);
      return await this.uploadBlob(hash, blob, encrypted.sha256, encrypted.size);
    } finally {
      await rm(blob, { force: true });
    }
  }

  private async uploadBlob(hash: string, file: string, sha256: string, size: number): Promise<'stored' | 'exists'> {
    const path = routePath('putCache', { hash });
    return this.http.withRetry(`PUT ${path}`, { retry: { ...DEFAULT_RETRY, maxAttempts: 5, maxTotalMs: 120_000 } }, async () => {
      const res = await request(this.http.url(path), {
        method: 'PUT',
        headers: {
          ...this.cacheHeaders(),
          'content-type': 'application/octet-stream',
          'content-length': String(size),
          [HEADER_SHA256]: sha256,
        },
        body: createReadStream(file),
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      const text = await res.body.text();
      if (res.statusCode === 200 || res.statusCode === 201 || res.statusCode === 204) return 'stored';
      if (res.statusCode === 409) return 'exists';
      throw httpError(this.url, 'PUT', path, res.statusCode, text);
    });
  }
}

export class IntegrityError extends FleetError {
  constructor(hash: string, detail: string) {
    super(`artifact ${hash} failed its integrity check: ${detail}`, 'integrity');
  }
}

/**
 * A branch name as Fleet declares it (CreateRunRequest.branch, the run marker, an agent's
 * run branch): control characters dropped, trimmed, at most MAX_BRANCH_LENGTH characters
 * and never half of one. Undefined when nothing is left.
 */
export function cleanBranch(branch: string | undefined): string | undefined {
  if (branch === undefined) return undefined;
  let value = '';
  for (const c of branch.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim()) {
    if (/^[\ud800-\udfff]$/.test(c)) continue; // half a surrogate pair: no character at all
    if (value.length + c.length > MAX_BRANCH_LENGTH) break;
    value += c;
  }
  value = value.trim();
  return value || undefined;
}

/**
 * The x-fleet-branch header of a branch: cleanBranch, then `%` and every character outside
 * printable ASCII percent-encoded as UTF-8 (a header holds Latin-1 only, and no CR/LF);
 * the coordinator decodes it, so the header names the same branch as CreateRunRequest.branch.
 */
export function branchHeaderValue(branch: string | undefined): string | undefined {
  const clean = cleanBranch(branch);
  if (clean === undefined) return undefined;
  let value = '';
  for (const c of clean) value += /^[\x20-\x7e]$/.test(c) && c !== '%' ? c : encodeURIComponent(c);
  return value;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
