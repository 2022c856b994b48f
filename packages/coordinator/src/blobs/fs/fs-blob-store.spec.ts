import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsBlobStore } from './fs-blob-store';

describe('FsBlobStore', () => {
  let dir: string;
  let store: FsBlobStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-blobs-'));
    store = new FsBlobStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const limits = (expectedBytes: number): { expectedBytes: number; maxBytes: number; expectedSha256: null } => ({
    expectedBytes,
    maxBytes: 100,
    expectedSha256: null,
  });
  const nothingLeft = (): void => {
    expect(existsSync(join(dir, 'default', 'k'))).toBe(false);
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  };

  it('writes under <root>/<namespace>/<hash> and reads back', async () => {
    const stored = await store.write('default/k', Readable.from([Buffer.from('abc')]), limits(3));
    expect(stored).toEqual({ size: 3, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' });
    expect(existsSync(join(dir, 'default', 'k'))).toBe(true);
    const read = await store.read('default/k');
    expect(read?.size).toBe(3);
    read?.stream.destroy();
    expect(await store.read('default/missing')).toBeNull();
  });

  it('a body shorter than declared stores nothing', async () => {
    await expect(store.write('default/k', Readable.from([Buffer.from('ab')]), limits(3))).rejects.toThrow(/2 bytes/);
    nothingLeft();
  });

  it('a body longer than declared stores nothing', async () => {
    await expect(store.write('default/k', Readable.from([Buffer.from('abcd')]), limits(3))).rejects.toThrow(/longer/);
    nothingLeft();
  });

  it('a body over maxBytes is payload_too_large', async () => {
    await expect(store.write('default/k', Readable.from([Buffer.alloc(101)]), limits(101))).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    nothingLeft();
  });

  it('a failing source stores nothing', async () => {
    const source = new Readable({ read(): void {} });
    source.push(Buffer.from('a'));
    setTimeout(() => source.destroy(new Error('connection reset')), 10);
    await expect(store.write('default/k', source, limits(3))).rejects.toMatchObject({ code: 'bad_request' });
    nothingLeft();
  });

  it('refuses keys that would escape the root', async () => {
    await expect(store.read('../etc' as 'a/b')).rejects.toThrow(/invalid blob key/);
  });
});
