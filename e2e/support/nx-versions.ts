/** What differs between the Nx versions Fleet's e2e tests run against. See README.md beside this file. */

export const NX_VERSIONS = ['20.8.4', '19.8.14'] as const;
export type NxVersion = (typeof NX_VERSIONS)[number];

export const WORKSPACE_NAME = 'demo';
export const LIB_COUNT = 6;

export interface NxRecipe {
  readonly preset: string;
  /** Arguments after `nx g @nx/js:library` for library number n. */
  libraryArgs(n: number): string[];
  /** Project name Nx gives library n. */
  projectName(n: number): string;
  /** Import specifier other libraries use for library n. */
  importPath(n: number): string;
  /** Relative import suffix used in generated specs ('.js' under nodenext). */
  readonly relativeImportSuffix: string;
  /** Libraries resolve each other as npm workspace packages (then npm install + nx sync), not tsconfig paths. */
  readonly npmWorkspaces: boolean;
  /**
   * Range written into lib(n)'s package.json dependencies for lib(n-1): '*' (npm workspace) or 'exact'
   * (its version; 19's @nx/dependency-checks lint rule fails when the dependency is missing).
   */
  readonly dependencyRange: '*' | 'exact';
  /** Folders (relative, may use one `*`) a build or test run leaves behind; removed to clean the template. */
  readonly buildLeftovers: readonly string[];
}

const COMMON_LIB_FLAGS = ['--bundler=tsc', '--unitTestRunner=jest', '--linter=eslint', '--no-interactive'];

export const RECIPES: Record<NxVersion, NxRecipe> = {
  // Nx 20 "ts" preset: npm workspaces, TS project references, inferred build/typecheck targets.
  '20.8.4': {
    preset: 'ts',
    libraryArgs: (n) => [`packages/lib${n}`, ...COMMON_LIB_FLAGS],
    projectName: (n) => `@${WORKSPACE_NAME}/lib${n}`,
    importPath: (n) => `@${WORKSPACE_NAME}/lib${n}`,
    relativeImportSuffix: '.js',
    npmWorkspaces: true,
    dependencyRange: '*',
    buildLeftovers: ['dist', '.nx', 'packages/*/dist', 'packages/*/out-tsc', 'test-output', 'coverage', 'graph.json'],
  },
  // Nx 19 "ts" preset: integrated repo, tsconfig.base.json paths, explicit @nx/js:tsc build in project.json.
  '19.8.14': {
    preset: 'ts',
    libraryArgs: (n) => [
      `--name=lib${n}`,
      `--directory=packages/lib${n}`,
      '--projectNameAndRootFormat=as-provided',
      ...COMMON_LIB_FLAGS,
    ],
    projectName: (n) => `lib${n}`,
    importPath: (n) => `@${WORKSPACE_NAME}/lib${n}`,
    relativeImportSuffix: '',
    npmWorkspaces: false,
    dependencyRange: 'exact',
    buildLeftovers: ['dist', '.nx', 'packages/*/dist', 'packages/*/out-tsc', 'test-output', 'coverage', 'graph.json'],
  },
};

export function isNxVersion(value: string): value is NxVersion {
  return (NX_VERSIONS as readonly string[]).includes(value);
}
