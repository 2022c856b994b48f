import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { silentReporter } from '../reporter';
import { startRelay, type Relay, type RelayHandler } from './relay-server';

describe('cache relay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-relay-'));
  const puts: Array<{ hash: string; scope: string | null; sha256: string; size: number; body: string }> = [];
  const blob = join(dir, 'blob');
  writeFileSync(blob, 'artifact-bytes');
  const handler: RelayHandler = {
    async get(hash) {
      return hash === '111' ? { file: blob, temporary: false } : null;
    },
    async put(hash, scope, upload) {
      puts.push({ hash, scope, sha256: upload.sha256, size: upload.size, body: readFileSync(upload.file, 'utf8') });
    },
  };
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay(handler, { tmpDir: join(dir, 'tmp'), reporter: silentReporter });
  });
  afterAll(() => relay.close());
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${relay.secret}` });

  it('listens on loopback only', () => {
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers Nx GETs: 200 with the artifact, 404 on a miss', async () => {
    const hit = await request(`${relay.url}/v1/cache/111`, { headers: auth() });
    expect(hit.statusCode).toBe(200);
    expect(hit.headers['content-type']).toBe('application/octet-stream');
    expect(await hit.body.text()).toBe('artifact-bytes');
    const miss = await request(`${relay.url}/v1/cache/222`, { headers: auth() });
    expect(miss.statusCode).toBe(404);
    await miss.body.dump();
  });

  it('hands a complete PUT to the handler with its sha256, size and scope, and answers 200', async () => {
    const res = await request(`${relay.url}/lease_1/v1/cache/333`, { method: 'PUT', headers: auth(), body: 'hello' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(puts).toContainEqual({
      hash: '333',
      scope: 'lease_1',
      sha256: createHash('sha256').update('hello').digest('hex'),
      size: 5,
      body: 'hello',
    });
  });

  it('refuses a wrong token and paths that are not cache routes', async () => {
    const bad = await request(`${relay.url}/v1/cache/111`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
    await bad.body.dump();
    const odd = await request(`${relay.url}/v1/cache/../../etc/passwd`, { headers: auth() });
    expect(odd.statusCode).toBe(404);
    await odd.body.dump();
  });

  it('warns when answering fails, but not when Nx is gone or the relay closes under an answer', async () => {
    const warnings: string[] = [];
    const reporter = { ...silentReporter, warn: (m: string) => void warnings.push(m) };
    let release: () => void = () => undefined;
    let called: () => void = () => undefined;
    const held = new Promise<void>((r) => (called = r));
    const slow: RelayHandler = {
      async get(hash) {
        if (hash === 'boom') throw new Error('boom');
        called();
        await new Promise<void>((r) => (release = r));
        return { file: blob, temporary: false };
      },
      async put() {},
    };
    const other = await startRelay(slow, { tmpDir: join(dir, 'tmp2'), reporter });
    const headers = { authorization: `Bearer ${other.secret}` };
    const failed = await request(`${other.url}/v1/cache/boom`, { headers });
    expect(failed.statusCode).toBe(404);
    await failed.body.dump();
    expect(warnings).toEqual([expect.stringContaining('boom')]);
    const pending = request(`${other.url}/v1/cache/333`, { headers }).catch((error: unknown) => error);
    await held;
    await other.close();
    release();
    await pending;
    await new Promise((r) => setTimeout(r, 50));
    expect(warnings).toHaveLength(1);
  });
});

