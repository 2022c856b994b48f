import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { writeRawArchive, type RawEntry } from '../replay/tar-fixtures';
import { CoordinatorCache } from './cache-handler';

/** An Nx cache archive whose output entries are named `names` (as written, separators included). */
function archive(dir: string, names: string[], code = 0): string {
  const stage = mkdtempSync(join(dir, 'stage-'));
  writeFileSync(join(stage, 'terminalOutput'), 'built\n');
  const c = Buffer.alloc(4);
  c.writeInt32BE(code, 0);
  writeFileSync(join(stage, 'code'), c);
  for (const name of names) {
    if (name.includes('/')) mkdirSync(join(stage, name, '..'), { recursive: true });
    writeFileSync(join(stage, name), 'x');
  }
  const file = join(stage, 'artifact.tar.gz');
  tar.c({ cwd: stage, file, gzip: true, sync: true }, ['terminalOutput', 'code', ...names]);
  return file;
}

function cacheServing(file: string, dir: string): { cache: CoordinatorCache; warnings: string[]; tmpDir: string } {
  const warnings: string[] = [];
  const reporter = { info: () => {}, debug: () => {}, warn: (m: string) => warnings.push(m), error: () => {} } as unknown as Reporter;
  const client = {
    async downloadArtifact(_hash: string, target: string) {
      copyFileSync(file, target);
      return { file: target, sha256: '', size: 0 };
    },
  } as unknown as FleetClient;
  const tmpDir = mkdtempSync(join(dir, 'tmp-'));
  return { cache: new CoordinatorCache(client, reporter, tmpDir), warnings, tmpDir };
}

describe('CoordinatorCache.fetchSuccess (FC-13: archives made on Windows)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-cache-handler-'));

  it('serves an archive with POSIX entry names', async () => {
    const { cache, warnings } = cacheServing(archive(dir, ['dist/a/sub/index.js']), dir);
    const found = await cache.fetchSuccess('123');
    expect(found).not.toBeNull();
    expect(warnings).toEqual([]);
  });

  it('treats an archive whose entry names use backslashes as a miss, with a warning naming the hash', async () => {
    const { cache, warnings } = cacheServing(archive(dir, ['dist\\a\\sub\\index.js']), dir);
    expect(await cache.fetchSuccess('456')).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cache entry 456 was archived with Windows path separators \(e\.g\. dist\\a\\sub\\index\.js\)/);
  });

  it('an encrypted entry reaching a job without FLEET_ENCRYPTION_KEY is a miss that says so', async () => {
    const blob = join(dir, 'ciphertext');
    writeFileSync(blob, Buffer.concat([Buffer.from('FLEETENC1', 'ascii'), Buffer.alloc(64, 7)]));
    const { cache, warnings, tmpDir } = cacheServing(blob, dir);
    expect(await cache.fetchSuccess('999')).toBeNull();
    expect(warnings).toEqual([expect.stringContaining('cache entry 999 is encrypted (written with FLEET_ENCRYPTION_KEY) and this job has no key')]);
    expect(readdirSync(tmpDir)).toEqual([]);
  });

  it('still treats a failed result as a miss', async () => {
    const { cache, warnings } = cacheServing(archive(dir, ['dist/a/x.txt'], 1), dir);
    const found = await cache.fetchSuccess('789');
    expect(found).toBeNull();
    expect(warnings[0]).toMatch(/holds a failed result \(code 1\)/);
  });
});

describe('CoordinatorCache.fetchSuccess refuses unsafe archives (Nx 21+ unpacks them itself)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-cache-handler-'));
  const raw = (entries: RawEntry[], code = 0) => writeRawArchive(join(mkdtempSync(join(dir, 'raw-')), 'a.tar.gz'), entries, code);

  it.each<[string, RawEntry[], string]>([
    ['a .. path', [{ path: 'dist/../../evil.txt', body: 'x' }], 'dist/../../evil.txt'],
    ['an absolute path', [{ path: '/etc/evil', body: 'x' }], '/etc/evil'],
    ['a FIFO', [{ path: 'dist/pipe', type: 'FIFO' }], 'dist/pipe'],
    ['a symbolic link out', [{ path: 'dist/out', type: 'SymbolicLink', linkpath: '../../outside' }], 'dist/out'],
    ['a hard link out', [{ path: 'dist/h', type: 'Link', linkpath: '/etc/passwd' }], 'dist/h'],
  ])('treats an archive with %s as a miss, warns naming the entry and removes the download', async (_what, entries, named) => {
    const { cache, warnings, tmpDir } = cacheServing(raw([{ path: 'dist/ok.txt', body: 'ok' }, ...entries]), dir);
    expect(await cache.fetchSuccess('bad1')).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cache entry bad1 is an unsafe archive, treating it as a miss');
    expect(warnings[0]).toContain(named);
    expect(readdirSync(tmpDir)).toEqual([]);
  });

  it('reports an unsafe archive as unsafe even when it also holds a failure', async () => {
    const { cache, warnings } = cacheServing(raw([{ path: '../evil', body: 'x' }], 1), dir);
    expect(await cache.fetchSuccess('bad2')).toBeNull();
    expect(warnings).toEqual([expect.stringMatching(/unsafe archive.*\.\.\/evil/)]);
  });

  it('serves an archive whose links stay inside', async () => {
    const { cache, warnings } = cacheServing(
      raw([
        { path: 'node_modules/tool/cli.js', body: 'cli' },
        { path: 'node_modules/.bin/tool', type: 'SymbolicLink', linkpath: '../tool/cli.js' },
      ]),
      dir,
    );
    const found = await cache.fetchSuccess('good');
    expect(found).not.toBeNull();
    expect(existsSync(found!.file)).toBe(true);
    expect(warnings).toEqual([]);
  });
});
