import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_BRANCH, HEADER_SHA256, MAX_BRANCH_LENGTH } from '@fleet/protocol';
import { FleetClient, normalizeBranch } from './fleet-client';

/** A cache server in memory that records the headers of every request. */
async function cacheServer(): Promise<{ url: string; seen: IncomingMessage['headers'][]; blobs: Map<string, Buffer>; close(): Promise<void> }> {
  const seen: IncomingMessage['headers'][] = [];
  const blobs = new Map<string, Buffer>();
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const hash = decodeURIComponent(req.url!.split('/').pop()!);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        blobs.set(hash, Buffer.concat(chunks));
        res.writeHead(201).end();
      } else if (blobs.has(hash)) {
        const body = blobs.get(hash)!;
        res.writeHead(200, { 'content-length': body.length, [HEADER_SHA256]: createHash('sha256').update(body).digest('hex') }).end(body);
      } else res.writeHead(404).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, blobs, close: () => new Promise((r) => server.close(() => r())) };
}

describe('FleetClient cache requests', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-client-'));
  const file = join(dir, 'artifact');
  writeFileSync(file, 'some bytes');
  const sha = createHash('sha256').update('some bytes').digest('hex');

  it('send x-fleet-branch on GET and PUT when the branch is known, and none when it is not', async () => {
    const server = await cacheServer();
    try {
      const client = new FleetClient({ url: server.url, token: 'secret', branch: 'main' });
      expect(await client.uploadArtifact('abc', file, sha)).toBe('stored');
      expect(await client.downloadArtifact('abc', join(dir, 'got'))).toMatchObject({ sha256: sha, size: 10 });
      expect(readFileSync(join(dir, 'got'), 'utf8')).toBe('some bytes');
      expect(server.seen.map((h) => h[HEADER_BRANCH])).toEqual(['main', 'main']);

      await new FleetClient({ url: server.url, token: 'secret' }).downloadArtifact('abc', join(dir, 'got2'));
      expect(server.seen[2][HEADER_BRANCH]).toBeUndefined();

      await client.withBranch('pull/12').downloadArtifact('abc', join(dir, 'got3'));
      expect(server.seen[3][HEADER_BRANCH]).toBe('pull/12');
    } finally {
      await server.close();
    }
  });

  it('keep control characters out of the header and cap it at MAX_BRANCH_LENGTH', async () => {
    const server = await cacheServer();
    try {
      await new FleetClient({ url: server.url, token: 't', branch: 'feat\r\nx-evil: 1\u0000' }).downloadArtifact('abc', join(dir, 'x'));
      expect(server.seen[0][HEADER_BRANCH]).toBe('featx-evil: 1');
      expect(server.seen[0]['x-evil']).toBeUndefined();
    } finally {
      await server.close();
    }
    expect(normalizeBranch('a'.repeat(1000))).toHaveLength(MAX_BRANCH_LENGTH);
    expect(normalizeBranch('\u0001\u0002 ')).toBeUndefined();
    // a header holds Latin-1 only: other characters are percent-encoded (UTF-8), never cut in half
    expect(normalizeBranch('fé/100%')).toBe('f%C3%A9/100%');
    expect(normalizeBranch('x'.repeat(MAX_BRANCH_LENGTH - 2) + 'é')).toBe('x'.repeat(MAX_BRANCH_LENGTH - 2));
    expect(normalizeBranch('a\ud800b')).toBe('ab');
    // the same name however often it is normalized (an agent sends its run's branch as it is)
    for (const name of ['main', 'fé/100%', 'feat/🚀', 'é'.repeat(200)]) {
      expect(normalizeBranch(normalizeBranch(name))).toBe(normalizeBranch(name));
    }
  });
});
