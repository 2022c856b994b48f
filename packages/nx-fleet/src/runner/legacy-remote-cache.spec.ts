import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentReporter } from '../reporter';
import { startRelay, type Relay } from '../relay/relay-server';
import { readArchiveCode, readTerminalOutput } from '../replay/archive';
import { legacyRemoteCache } from './legacy-remote-cache';

describe('legacy remote cache adapter (Nx 19)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-legacy-'));
  const blobs = new Map<string, string>();
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay(
      {
        async get(hash) {
          const f = blobs.get(hash);
          return f ? { file: f, temporary: false } : null;
        },
        async put(hash, _scope, upload) {
          const keep = join(dir, `blob-${hash}`);
          copyFileSync(upload.file, keep);
          blobs.set(hash, keep);
        },
      },
      { tmpDir: join(dir, 'tmp'), reporter: silentReporter },
    );
  });
  afterAll(() => relay.close());

  it('stores a legacy cache folder as an Nx HTTP archive and restores it in the legacy layout', async () => {
    const cacheA = join(dir, 'cache-a');
    const entry = join(cacheA, '123');
    mkdirSync(join(entry, 'outputs/dist/a/sub'), { recursive: true });
    writeFileSync(join(entry, 'outputs/dist/a/sub/index.js'), 'A');
    writeFileSync(join(entry, 'terminalOutput'), 'built a\n');
    writeFileSync(join(entry, 'code'), '0');
    writeFileSync(join(entry, 'source'), 'machine-a');
    const cache = legacyRemoteCache(relay.url, relay.secret, silentReporter);
    expect(await cache.store('123', cacheA)).toBe(true);
    const archive = blobs.get('123')!;
    expect(readTerminalOutput(archive)).toBe('built a\n');
    expect(readArchiveCode(archive)).toBe(0);

    const cacheB = join(dir, 'cache-b');
    mkdirSync(cacheB);
    expect(await cache.retrieve('123', cacheB)).toBe(true);
    expect(readFileSync(join(cacheB, '123/outputs/dist/a/sub/index.js'), 'utf8')).toBe('A');
    expect(readFileSync(join(cacheB, '123/terminalOutput'), 'utf8')).toBe('built a\n');
    expect(readFileSync(join(cacheB, '123/code'), 'utf8')).toBe('0');
    expect(readFileSync(join(cacheB, '123.commit'), 'utf8')).toBe('true');
    // a foreign machine id would make later local hits fail with "Invalid Cache Directory"
    expect(existsSync(join(cacheB, '123/source'))).toBe(false);
  });

  it('answers false on a miss and leaves no commit marker', async () => {
    const cacheC = join(dir, 'cache-c');
    mkdirSync(cacheC);
    const cache = legacyRemoteCache(relay.url, relay.secret, silentReporter);
    expect(await cache.retrieve('999', cacheC)).toBe(false);
    expect(existsSync(join(cacheC, '999.commit'))).toBe(false);
  });
});
