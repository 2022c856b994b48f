import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_BRANCH, HEADER_SHA256, MAX_BRANCH_LENGTH } from '@fleet/protocol';
import { startServer, silentReporter } from '@fleet/coordinator';
import { EncryptionKey } from './encryption';
import { branchHeaderValue, cleanBranch, FleetClient, IntegrityError } from './fleet-client';
import { NO_RETRY } from './retry';

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
    expect(cleanBranch('a'.repeat(1000))).toHaveLength(MAX_BRANCH_LENGTH);
    expect(branchHeaderValue('a'.repeat(1000))).toHaveLength(MAX_BRANCH_LENGTH);
    expect(branchHeaderValue('\u0001\u0002 ')).toBeUndefined();
    expect(cleanBranch('fé\u0007')).toBe('fé');
    expect(cleanBranch('x'.repeat(MAX_BRANCH_LENGTH - 1) + '🚀')).toBe('x'.repeat(MAX_BRANCH_LENGTH - 1)); // never half a character
    expect(cleanBranch('a\ud800b')).toBe('ab');
    // a header holds Latin-1 only: `%` and other characters are percent-encoded (UTF-8) and decode to the clean name
    expect(branchHeaderValue('fé/100%')).toBe('f%C3%A9/100%25');
    for (const name of ['main', 'fé/100%', 'feat/🚀', 'é'.repeat(300), 'a%zz']) {
      expect(decodeURIComponent(branchHeaderValue(name)!)).toBe(cleanBranch(name));
    }
  });
});

describe('FleetClient with FLEET_ENCRYPTION_KEY (against a real coordinator)', () => {
  const key = EncryptionKey.parse('c3'.repeat(32));
  const TOKEN = 'enc-token-0123456789';
  const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

  it('uploads ciphertext only, downloads and decrypts it, and leaves no temporary file', async () => {
    const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: mkdtempSync(join(tmpdir(), 'fleet-enc-data-')), token: TOKEN, reporter: silentReporter });
    const dir = mkdtempSync(join(tmpdir(), 'fleet-enc-client-'));
    try {
      const options = { url: server.url, token: TOKEN, retry: NO_RETRY, branch: 'main' };
      const encrypted = new FleetClient({ ...options, encryptionKey: key });
      const plain = join(dir, 'artifact.tar.gz');
      writeFileSync(plain, randomBytes(3 * 1024 * 1024));
      expect(await encrypted.uploadArtifact('1111aaaa', plain, sha(plain))).toBe('stored');
      expect(readdirSync(dir)).toEqual(['artifact.tar.gz']);

      // the coordinator holds (and checks the digest of) the ciphertext, never the plaintext
      const raw = join(dir, 'raw');
      const stored = await new FleetClient(options).downloadArtifact('1111aaaa', raw);
      expect(stored!.sha256).not.toBe(sha(plain));
      expect(readFileSync(raw).subarray(0, 9).toString()).toBe('FLEETENC1');

      const got = join(dir, 'got');
      expect(await encrypted.downloadArtifact('1111aaaa', got)).toEqual({ file: got, sha256: sha(plain), size: 3 * 1024 * 1024 });
      expect(sha(got)).toBe(sha(plain));
      expect(readdirSync(dir).sort()).toEqual(['artifact.tar.gz', 'got', 'raw']);

      // a miss is still a miss
      expect(await encrypted.downloadArtifact('2222bbbb', join(dir, 'none'))).toBeNull();
    } finally {
      await server.close();
    }
  });

  it('a plaintext entry, another key or a blob under another hash is an IntegrityError that says which', async () => {
    const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: mkdtempSync(join(tmpdir(), 'fleet-enc-data-')), token: TOKEN, reporter: silentReporter });
    const dir = mkdtempSync(join(tmpdir(), 'fleet-enc-client-'));
    try {
      const options = { url: server.url, token: TOKEN, retry: NO_RETRY, branch: 'main' };
      const file = join(dir, 'a');
      writeFileSync(file, 'hello');
      await new FleetClient(options).uploadArtifact('3333cccc', file, sha(file));
      const encrypted = new FleetClient({ ...options, encryptionKey: key });
      const plaintextEntry = encrypted.downloadArtifact('3333cccc', join(dir, 'x'));
      await expect(plaintextEntry).rejects.toThrow(IntegrityError);
      await expect(plaintextEntry).rejects.toThrow(/artifact 3333cccc failed its integrity check: it is not encrypted with FLEET_ENCRYPTION_KEY \(written without a key/);

      await new FleetClient({ ...options, encryptionKey: EncryptionKey.parse('d4'.repeat(32)) }).uploadArtifact('4444dddd', file, sha(file));
      await expect(encrypted.downloadArtifact('4444dddd', join(dir, 'y'))).rejects.toThrow(/encrypted with another key than FLEET_ENCRYPTION_KEY/);

      // the coordinator (or whoever runs it) copies one entry's blob under another hash
      await encrypted.uploadArtifact('5555eeee', file, sha(file));
      const blob = join(dir, 'blob');
      await new FleetClient(options).downloadArtifact('5555eeee', blob);
      await new FleetClient(options).uploadArtifact('6666ffff', blob, sha(blob));
      await expect(encrypted.downloadArtifact('6666ffff', join(dir, 'z'))).rejects.toThrow(/written for another artifact \(5555eeee\), not 6666ffff/);
      for (const name of ['x', 'y', 'z']) expect(existsSync(join(dir, name))).toBe(false);
      expect(readdirSync(dir).filter((n) => n.includes('.enc-'))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
