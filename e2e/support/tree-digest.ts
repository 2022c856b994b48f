import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface FileDigest {
  readonly sha256: string;
  /** Permission bits (`mode & 0o7777`) for files; the full lstat mode (0o120xxx) for symlinks, hashed by target. */
  readonly mode: number;
}

export interface DigestOptions {
  /** A string excludes that relative path and everything under it; a RegExp is tested on the relative path. */
  readonly exclude?: ReadonlyArray<string | RegExp>;
}

function excluded(rel: string, exclude: ReadonlyArray<string | RegExp>): boolean {
  return exclude.some((rule) => (typeof rule === 'string' ? rel === rule || rel.startsWith(`${rule}/`) : rule.test(rel)));
}

/**
 * sha256 and mode of every file under `dir`, keyed by '/'-separated relative path, sorted.
 * Folders are walked (not recorded); symlinks are recorded, not followed. Compare two digests with toEqual.
 */
export function digestTree(dir: string, options: DigestOptions = {}): Record<string, FileDigest> {
  const exclude = options.exclude ?? [];
  const out: Record<string, FileDigest> = {};
  const walk = (relDir: string): void => {
    const entries = readdirSync(join(dir, relDir)).sort();
    for (const name of entries) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (excluded(rel, exclude)) continue;
      const full = join(dir, rel);
      const stat = lstatSync(full);
      if (stat.isDirectory()) walk(rel);
      else if (stat.isSymbolicLink()) {
        out[rel] = { sha256: createHash('sha256').update(`symlink:${readlinkSync(full)}`).digest('hex'), mode: stat.mode };
      } else if (stat.isFile()) {
        out[rel] = { sha256: createHash('sha256').update(readFileSync(full)).digest('hex'), mode: stat.mode & 0o7777 };
      }
    }
  };
  walk('');
  return out;
}
