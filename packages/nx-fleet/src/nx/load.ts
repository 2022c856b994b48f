import { dirname, join } from 'node:path';

/**
 * Nx is a peer dependency: every Nx module is loaded from the user's workspace, never
 * from wherever nx-fleet happens to be installed, so the Nx that runs is the user's.
 */
export function requireFromWorkspace<T>(request: string, workspaceRoot: string): T {
  const resolved = require.resolve(request, { paths: [workspaceRoot] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(resolved) as T;
}

/** The workspace's Nx CLI script (`bin/nx.js` up to Nx 23, `dist/bin/nx.js` in Nx 24). */
export function nxCliPath(workspaceRoot: string): string {
  const pkgFile = require.resolve('nx/package.json', { paths: [workspaceRoot] });
  const pkg = requireFromWorkspace<{ bin?: string | Record<string, string> }>('nx/package.json', workspaceRoot);
  const bin = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.nx ?? 'bin/nx.js');
  return join(dirname(pkgFile), bin);
}
