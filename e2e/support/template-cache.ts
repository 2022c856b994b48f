import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDirLock } from './dir-lock';

/** Root of the cached templates: ${os.tmpdir()}/fleet-e2e-templates (override with FLEET_E2E_TEMPLATES_DIR). */
export function templatesRoot(): string {
  return process.env.FLEET_E2E_TEMPLATES_DIR ?? join(tmpdir(), 'fleet-e2e-templates');
}

/** A short hash of the given files' contents and extra strings: a recipe edit makes a new cache entry. */
export function recipeHash(files: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(file));
  for (const item of extra) hash.update(`\0${item}`);
  return hash.digest('hex').slice(0, 12);
}

export const COMPLETE_MARKER = '.complete';

/**
 * Returns `<templatesRoot>/<key>`, building it with `build(dir)` first unless its `.complete` marker exists.
 * One builder at a time per key (a mkdir lock); a half-built folder is wiped and rebuilt.
 */
export async function cachedDir(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const root = templatesRoot();
  const dir = join(root, key);
  const marker = join(dir, COMPLETE_MARKER);
  if (existsSync(marker)) return dir;
  mkdirSync(root, { recursive: true });
  await withDirLock(`${dir}.lock`, async () => {
    if (existsSync(marker)) return; // another worker finished it while we waited
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await build(dir);
    writeFileSync(marker, new Date().toISOString());
  });
  return dir;
}
