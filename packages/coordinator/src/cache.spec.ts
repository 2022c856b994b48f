import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHarness, TEST_TOKEN, type Harness } from './testing/harness';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// the trusted branch: its artifacts live in the default workspace's shared namespace, blobs/default/
const main = { 'x-fleet-branch': 'main' };
const octet = (body: Buffer, extra: Record<string, string> = {}): Record<string, string> => ({
  ...auth,
  ...main,
  'content-type': 'application/octet-stream',
  'content-length': String(body.length),
  'x-fleet-sha256': sha(body),
  ...extra,
});

describe('cache API', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ maxArtifactBytes: 512 * 1024 });
  });
  afterEach(async () => {
    await h.close();
  });

  const put = (hash: string, body: Buffer, extra: Record<string, string> = {}): ReturnType<Harness['raw']> =>
    h.raw({ method: 'PUT', path: `/v1/cache/${hash}`, headers: octet(body, extra), body });
  const get = (hash: string): ReturnType<Harness['raw']> =>
    h.raw({ method: 'GET', path: `/v1/cache/${hash}`, headers: { ...auth, ...main } });
  const blobFile = (hash: string): string => join(h.dir, 'blobs', 'default', hash);

  it('round-trips an artifact with its sha256 header; a second PUT is 409', async () => {
    const body = Buffer.alloc(300 * 1024, 7);
    expect((await put('123', body, { 'x-fleet-sha256': sha(body) })).statusCode).toBe(200);
    const res = await get('123');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe(String(body.length));
    expect(res.headers['x-fleet-sha256']).toBe(sha(body));
    expect(res.body.equals(body)).toBe(true);
    const again = await put('123', body);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('conflict');
    expect(readFileSync(blobFile('123')).equals(body)).toBe(true);
  });

  it('a PUT while the same key is still being uploaded is 503 busy (retry), not 409; once the first is dropped, a PUT stores', async () => {
    const { request } = await import('node:http');
    const url = new URL(h.url);
    const body = Buffer.alloc(200 * 1024, 3);
    // a first upload that sends half its body and stalls
    const first = request({ host: url.hostname, port: Number(url.port), method: 'PUT', path: '/v1/cache/h-busy', headers: octet(body) });
    first.on('error', () => undefined);
    first.write(body.subarray(0, body.length / 2));
    // the coordinator has begun writing it (a temporary file under blobs/)
    const writing = (): boolean => existsSync(join(h.dir, 'blobs')) && readdirSync(join(h.dir, 'blobs'), { recursive: true }).length > 0;
    for (let i = 0; i < 250 && !writing(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(writing()).toBe(true);
    const second = await put('h-busy', body);
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json()).toEqual({ code: 'busy', message: expect.stringContaining('is being uploaded') });
    first.destroy();
    let third = await put('h-busy', body);
    for (let i = 0; i < 50 && third.statusCode === 503; i++) {
      await new Promise((r) => setTimeout(r, 50));
      third = await put('h-busy', body);
    }
    expect(third.statusCode).toBe(200);
    expect((await get('h-busy')).body.equals(body)).toBe(true);
  });

  it('a miss is 404 and GET/PUT need the token', async () => {
    expect((await get('nothing')).statusCode).toBe(404);
    expect((await h.raw({ method: 'GET', path: '/v1/cache/x' })).statusCode).toBe(401);
    const body = Buffer.from('x');
    expect((await h.raw({ method: 'PUT', path: '/v1/cache/x', headers: { 'content-length': '1' }, body })).statusCode).toBe(401);
  });

  it('an aborted (short) upload stores nothing', async () => {
    const res = h.raw({
      method: 'PUT',
      path: '/v1/cache/short',
      headers: { ...octet(Buffer.alloc(1000, 1)) },
      abortAfter: Buffer.alloc(400, 1),
    });
    await res.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect((await get('short')).statusCode).toBe(404);
    expect(existsSync(blobFile('short'))).toBe(false);
    expect(readdirSync(join(h.dir, 'blobs', '.tmp'))).toEqual([]);
    expect((await put('short', Buffer.from('complete'))).statusCode).toBe(200);
  });

  it('a digest mismatch stores nothing', async () => {
    const body = Buffer.from('hello');
    const res = await put('mismatch', body, { 'x-fleet-sha256': sha(Buffer.from('other')) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'bad_request', message: expect.stringContaining('sha256 mismatch') });
    expect((await get('mismatch')).statusCode).toBe(404);
    expect(existsSync(blobFile('mismatch'))).toBe(false);
    const bad = await put('mismatch', body, { 'x-fleet-sha256': 'not-hex' });
    expect(bad.statusCode).toBe(400);
  });

  it('a PUT that does not declare its sha256 is refused and stores nothing', async () => {
    const body = Buffer.from('undeclared');
    const headers = octet(body);
    delete headers['x-fleet-sha256'];
    const res = await h.raw({ method: 'PUT', path: '/v1/cache/undeclared', headers, body });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'bad_request', message: expect.stringContaining('x-fleet-sha256 is required') });
    expect((await get('undeclared')).statusCode).toBe(404);
    expect(existsSync(blobFile('undeclared'))).toBe(false);
  });

  it('a PUT without Content-Length is 411', async () => {
    const res = await h.raw({
      method: 'PUT',
      path: '/v1/cache/chunked',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      body: Buffer.from('abc'),
    });
    expect(res.statusCode).toBe(411);
    expect(res.json().code).toBe('bad_request');
  });

  it('over maxArtifactBytes is 413 naming the limit', async () => {
    const res = await put('big', Buffer.alloc(512 * 1024 + 1));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ code: 'payload_too_large', message: expect.stringContaining('524288 bytes') });
    expect((await get('big')).statusCode).toBe(404);
  });

  it('a corrupted blob gives a truncated answer, is reported, and is a miss afterwards', async () => {
    const body = Buffer.alloc(200 * 1024, 3);
    expect((await put('rot', body)).statusCode).toBe(200);
    const onDisk = readFileSync(blobFile('rot'));
    onDisk[onDisk.length - 10] = 99;
    writeFileSync(blobFile('rot'), onDisk);
    const res = await get('rot');
    expect(res.statusCode).toBe(200);
    expect(res.complete).toBe(false);
    expect(res.body.length).toBeLessThan(body.length);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.reported.some((r) => r.level === 'error' && r.message.includes('sha256'))).toBe(true);
    expect((await get('rot')).statusCode).toBe(404);
  });

  it('a corrupted one-chunk blob is truncated too (the last chunk is held back)', async () => {
    expect((await put('tiny', Buffer.from('tiny artifact'))).statusCode).toBe(200);
    writeFileSync(blobFile('tiny'), Buffer.from('tiny artifacT'));
    const res = await get('tiny');
    expect(res.complete).toBe(false);
    expect(res.body.length).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect((await get('tiny')).statusCode).toBe(404);
  });

  it('accepts any content type as raw bytes (never parsed as JSON)', async () => {
    const body = Buffer.from('{"not": "parsed"');
    const res = await h.raw({
      method: 'PUT',
      path: '/v1/cache/json',
      headers: { ...octet(body), 'content-type': 'application/json' },
      body,
    });
    expect(res.statusCode).toBe(200);
    expect((await get('json')).body.equals(body)).toBe(true);
  });
});
