import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
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

function cacheServing(file: string, dir: string): { cache: CoordinatorCache; warnings: string[] } {
  const warnings: string[] = [];
  const reporter = { info: () => {}, debug: () => {}, warn: (m: string) => warnings.push(m), error: () => {} } as unknown as Reporter;
  const client = {
    async downloadArtifact(_hash: string, target: string) {
      copyFileSync(file, target);
      return { file: target, sha256: '', size: 0 };
    },
  } as unknown as FleetClient;
  return { cache: new CoordinatorCache(client, reporter, mkdtempSync(join(dir, 'tmp-'))), warnings };
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

  it('still treats a failed result as a miss', async () => {
    const { cache, warnings } = cacheServing(archive(dir, ['dist/a/x.txt'], 1), dir);
    const found = await cache.fetchSuccess('789');
    expect(found).toBeNull();
    expect(warnings[0]).toMatch(/holds a failed result \(code 1\)/);
  });
});
