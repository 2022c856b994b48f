import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Reporter } from '../reporter';
import { describeError } from '../util/errors';
import { newId } from '../util/ids';

/** What a relay does with Nx's cache requests; `scope` is the optional first path segment. */
export interface RelayHandler {
  /** A verified artifact file to send, or null for a miss. `temporary` files are removed after sending. */
  get(hash: string, scope: string | null): Promise<{ file: string; temporary: boolean } | null>;
  /** Called with the complete, hashed upload; the file is removed afterwards. */
  put(hash: string, scope: string | null, upload: { file: string; sha256: string; size: number }): Promise<void>;
}

export interface Relay {
  /** Base URL for NX_SELF_HOSTED_REMOTE_CACHE_SERVER (append `/<scope>` for a scoped one). */
  url: string;
  /** The bearer token Nx must send (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN). */
  secret: string;
  close(): Promise<void>;
}

const CACHE_PATH = /^(?:\/([A-Za-z0-9_-]{1,64}))?\/v1\/cache\/([A-Za-z0-9_-]{1,128})$/;

/**
 * The loopback HTTP cache that Nx talks to during a run. It answers Nx's self-hosted
 * cache API and does the real work (waiting for agents, verifying, retrying) with short
 * requests to the coordinator, so that no request is held open across the network.
 */
export async function startRelay(handler: RelayHandler, options: { tmpDir: string; reporter: Reporter }): Promise<Relay> {
  await mkdir(options.tmpDir, { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${secret}`);
  const authorized = (req: IncomingMessage): boolean => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  let closing = false;
  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      // Nx went away in the middle of an answer (or the relay is closing under one): nobody to tell
      const clientGone = closing || ((error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' && req.socket.destroyed);
      if (clientGone) options.reporter.debug(`cache relay: ${req.method} ${req.url} ended early: ${describeError(error)}`);
      else options.reporter.warn(`cache relay: ${req.method} ${req.url} failed: ${describeError(error)}`);
      if (!res.headersSent) res.writeHead(404).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  // Nx may legitimately wait a long time for a task that is still running on an agent.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = CACHE_PATH.exec((req.url ?? '').split('?')[0]);
    if (!match) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not a cache route');
    if (!authorized(req)) return void res.writeHead(401, { 'content-type': 'text/plain' }).end('bad relay token');
    const scope = match[1] ?? null;
    const hash = match[2];
    if (req.method === 'GET') {
      const found = await handler.get(hash, scope);
      if (!found) return void res.writeHead(404).end();
      try {
        const { size } = await stat(found.file);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
        await pipeline(createReadStream(found.file), res);
      } finally {
        if (found.temporary) await rm(found.file, { force: true });
      }
      return;
    }
    if (req.method === 'PUT') {
      const file = join(options.tmpDir, `put-${newId()}`);
      try {
        const digest = createHash('sha256');
        let size = 0;
        await pipeline(
          req,
          new Transform({
            transform(chunk: Buffer, _e, cb): void {
              digest.update(chunk);
              size += chunk.length;
              cb(null, chunk);
            },
          }),
          createWriteStream(file),
        );
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared !== size) {
          return void res.writeHead(400, { 'content-type': 'text/plain' }).end('body shorter than Content-Length');
        }
        await handler.put(hash, scope, { file, sha256: digest.digest('hex'), size });
        res.writeHead(200).end();
      } finally {
        await rm(file, { force: true });
      }
      return;
    }
    res.writeHead(405, { allow: 'GET, PUT' }).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secret,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Tells the process that started a relay where it listens: `<dir>/relay.json`, written atomically. */
export function writeRelayState(dir: string, relay: Pick<Relay, 'url' | 'secret'>): void {
  const file = join(dir, 'relay.json');
  writeFileSync(`${file}.tmp`, JSON.stringify({ url: relay.url, secret: relay.secret }));
  renameSync(`${file}.tmp`, file);
}
