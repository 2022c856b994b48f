import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError } from '@fleet/core';
import { CacheParams, HEADER_SHA256, ROUTES } from '@fleet/protocol';
import { blobKey, type BlobKey } from '../blobs/blob-store';
import { principalOf } from '../http/auth';
import type { BlobRecord } from '../state/state-store';
import { declaredBranch, namespacesFor } from '../trust/access';
import { VerifyingStream } from '../blobs/metering';
import { sendError } from '../http/errors';
import type { RouteContext } from './context';

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function declaredLength(value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^\d{1,16}$/.test(value)) throw new BadRequestError(`Content-Length ${value} is not a byte count`);
  return Number(value);
}

function declaredSha256(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw new BadRequestError(`${HEADER_SHA256} must be 64 hex digits`);
  }
  return value.toLowerCase();
}

/**
 * Nx's self-hosted remote cache API. Blob digests and sizes are recorded in the
 * StateStore's `blobs` table; a key is visible only once that record exists. Keys are
 * `namespace/hash`: a writer's namespace comes from its token's workspace and the branch it
 * declares (trust/namespaces.ts); reads look in the reader's own namespace, then the shared one.
 */
export function registerCacheRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, blobs, config, reporter, clock } = ctx.deps;
  const uploading = new Set<BlobKey>();

  async function forget(key: BlobKey): Promise<void> {
    await state.deleteBlob(key);
    await blobs.delete(key);
  }

  /** The first namespace of the reader's that holds the hash, with its record. */
  async function lookup(namespaces: readonly string[], hash: string): Promise<{ key: BlobKey; record: BlobRecord } | null> {
    for (const namespace of namespaces) {
      const key = blobKey(namespace, hash);
      const record = await state.getBlob(key);
      if (record !== null) return { key, record };
    }
    return null;
  }

  app.get<{ Params: CacheParams }>(ROUTES.getCache.url, { schema: { params: CacheParams } }, async (request, reply) => {
    const namespaces = namespacesFor(principalOf(request), declaredBranch(request), config.trustedBranches);
    const hit = await lookup(namespaces.read, request.params.hash);
    const key = hit?.key ?? blobKey(namespaces.write, request.params.hash);
    const record = hit?.record ?? null;
    const found = record === null ? null : await blobs.read(key);
    if (record === null || found === null || found.size !== record.size) {
      if (record !== null) {
        found?.stream.destroy();
        reporter.error(`artifact ${key} is missing or of the wrong size; removed`, { key, recorded: record.size, size: found?.size });
        await forget(key);
      }
      throw new NotFoundError(`no artifact for hash ${request.params.hash}`);
    }
    return streamVerified(reply, found.stream, record.sha256, record.size, (actual) => {
      reporter.error(`artifact ${key} failed its sha256 check; removed`, { key, recorded: record.sha256, actual });
      forget(key).catch((error: unknown) => reporter.error('could not remove corrupt artifact', { key, error: String(error) }));
    });
  });

  // Bodies of the PUT route reach the handler as the raw request stream, never buffered.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.put<{ Params: CacheParams }>(ROUTES.putCache.url, { schema: { params: CacheParams } }, async (request, reply) => {
      const key = blobKey(
        namespacesFor(principalOf(request), declaredBranch(request), config.trustedBranches).write,
        request.params.hash,
      );
      const length = declaredLength(request.headers['content-length']);
      if (length === null) {
        return sendError(reply, 411, { code: 'bad_request', message: 'Content-Length is required to upload an artifact' });
      }
      if (length === 0) throw new BadRequestError('an artifact cannot be empty (Content-Length: 0)');
      if (length > config.maxArtifactBytes) {
        throw new PayloadTooLargeError(
          `artifact of ${length} bytes exceeds the limit of ${config.maxArtifactBytes} bytes (${(config.maxArtifactBytes / 1024 ** 2).toFixed(0)} MiB; serve --max-artifact-mb)`,
        );
      }
      const expectedSha256 = declaredSha256(request.headers[HEADER_SHA256]);
      if (expectedSha256 === null) {
        throw new BadRequestError(
          `${HEADER_SHA256} is required: the writer declares the artifact's sha256 (Fleet's relay does; point Nx at the relay, not at the coordinator)`,
        );
      }
      if (uploading.has(key)) {
        // not stored yet, and the upload in progress may still fail (a dropped connection): not a 409
        reply.header('retry-after', '1');
        return sendError(reply, 503, {
          code: 'busy',
          message: `artifact for hash ${request.params.hash} is being uploaded by another request; try again`,
        });
      }
      if ((await state.getBlob(key)) !== null) {
        throw new ConflictError(`artifact for hash ${request.params.hash} already exists; artifacts are immutable`);
      }
      uploading.add(key);
      try {
        const body = (request.body ?? request.raw) as Readable;
        const stored = await blobs.write(key, body, { expectedBytes: length, maxBytes: config.maxArtifactBytes, expectedSha256 });
        const inserted = await state.insertBlob({ key, sha256: stored.sha256, size: stored.size, createdAt: clock.now() });
        if (!inserted) throw new ConflictError(`artifact for hash ${request.params.hash} already exists`);
        return reply.code(200).send();
      } finally {
        uploading.delete(key);
      }
    });
  });
}

/**
 * Sends the blob with its headers up front and verifies the digest while streaming; on
 * a mismatch the connection is destroyed before the last bytes, so the client sees a
 * truncated answer rather than wrong bytes.
 */
function streamVerified(
  reply: FastifyReply,
  source: Readable,
  sha256: string,
  size: number,
  onMismatch: (actual: string) => void,
): FastifyReply {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    [HEADER_SHA256]: sha256,
  });
  res.flushHeaders();
  const verifier = new VerifyingStream(sha256, size, onMismatch);
  pipeline(source, verifier, res, (error) => {
    if (error !== null && error !== undefined) res.destroy(error);
  });
  return reply;
}
