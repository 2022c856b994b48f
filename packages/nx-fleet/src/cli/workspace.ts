import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The nearest folder at or above `from` that holds nx.json (else `from`). */
export function findWorkspaceRootFrom(from: string): string {
  let dir = resolve(from);
  for (let i = 0; i < 100; i++) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return resolve(from);
}
