/**
 * Nx is a peer dependency: every Nx module is loaded from the user's workspace, never
 * from wherever nx-fleet happens to be installed, so the Nx that runs is the user's.
 */
export function requireFromWorkspace<T>(request: string, workspaceRoot: string): T {
  const resolved = require.resolve(request, { paths: [workspaceRoot] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(resolved) as T;
}

export function nxPackageVersion(workspaceRoot: string): string {
  return requireFromWorkspace<{ version: string }>('nx/package.json', workspaceRoot).version;
}
