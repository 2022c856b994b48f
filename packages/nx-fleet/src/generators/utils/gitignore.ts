import type { Tree } from '@nx/devkit';

/**
 * Adds `entries` (folder patterns like `.npm/`) to the workspace's .gitignore under a
 * `# <header>` comment, skipping those already ignored in one of their usual spellings
 * (`x`, `x/`, `/x`, `/x/`). Returns true when the file changed.
 */
export function addToGitignore(tree: Tree, header: string, entries: string[]): boolean {
  const current = tree.read('.gitignore', 'utf-8') ?? '';
  const lines = new Set(current.split(/\r?\n/).map((l) => l.trim()));
  const spellings = (entry: string): string[] => {
    const bare = entry.replace(/^\//, '').replace(/\/$/, '');
    return [bare, `${bare}/`, `/${bare}`, `/${bare}/`];
  };
  const missing = entries.filter((e) => !spellings(e).some((s) => lines.has(s)));
  if (missing.length === 0) return false;
  const block = `# ${header}\n${missing.join('\n')}\n`;
  const prefix = current === '' ? '' : `${current.endsWith('\n') ? current : `${current}\n`}\n`;
  tree.write('.gitignore', `${prefix}${block}`);
  return true;
}
