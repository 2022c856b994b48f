/** What differs between the Nx versions Fleet's e2e tests run against. See README.md beside this file. */

export const NX_VERSIONS = ['20.8.4', '19.8.14', '21.6.11', '22.7.12', '23.3.2', '24.0.6'] as const;
export type NxVersion = (typeof NX_VERSIONS)[number];

export const WORKSPACE_NAME = 'demo';
export const LIB_COUNT = 6;

export interface NxRecipe {
  readonly preset: string;
  /**
   * Version of create-nx-workspace and the @nx/* plugins whose generators make the workspace. Equal to the Nx
   * version except where the npm registry has no matching create-nx-workspace/@nx/js/@nx/jest (23.3.2, 24.0.6):
   * there the newest complete set generates and `nx` alone is then pinned to the target version.
   */
  readonly generatorVersion?: string;
  /**
   * devDependencies re-pinned right after create-nx-workspace, before any generator runs. 23.2.1's preset
   * installs TypeScript ~6.0, with which jest cannot load the generated jest.config.cts (ts-node: no node types,
   * TS5110 module/moduleResolution); the 22.7.12 preset's ~5.9.2 works.
   */
  readonly devDependencyPins?: Readonly<Record<string, string>>;
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

/** The Nx 20 form of the "ts" preset (npm workspaces, positional library directory), used from 21 on. */
function tsSolution(overrides: Partial<NxRecipe> = {}): NxRecipe {
  return {
    preset: 'ts',
    libraryArgs: (n) => [`packages/lib${n}`, ...COMMON_LIB_FLAGS],
    projectName: (n) => `@${WORKSPACE_NAME}/lib${n}`,
    importPath: (n) => `@${WORKSPACE_NAME}/lib${n}`,
    relativeImportSuffix: '.js',
    npmWorkspaces: true,
    dependencyRange: '*',
    buildLeftovers: ['dist', '.nx', 'packages/*/dist', 'packages/*/out-tsc', 'test-output', 'coverage', 'graph.json'],
    ...overrides,
  };
}

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
  // Nx 21–24 "ts" preset: npm workspaces like 20 (see README.md for what each version produces).
  '21.6.11': tsSolution(),
  '22.7.12': tsSolution(),
  '23.3.2': tsSolution({ generatorVersion: '23.2.1', devDependencyPins: { typescript: '~5.9.2' } }),
  '24.0.6': tsSolution({ generatorVersion: '23.2.1', devDependencyPins: { typescript: '~5.9.2' } }),
};

export function isNxVersion(value: string): value is NxVersion {
  return (NX_VERSIONS as readonly string[]).includes(value);
}

/** Versions `npm test` runs the version matrices on: the oldest and the newest supported. */
export const DEFAULT_E2E_NX_VERSIONS: readonly NxVersion[] = ['19.8.14', '24.0.6'];

/**
 * The Nx versions the e2e matrices (and globalSetup) use: `FLEET_E2E_NX_VERSIONS` (comma-separated, e.g.
 * `20.8.4,21.6.11`), else DEFAULT_E2E_NX_VERSIONS. FLEET_E2E_SKIP_19=1 drops 19.8.14. Throws on an unknown
 * version or an empty list.
 */
export function e2eNxVersions(env: NodeJS.ProcessEnv = process.env): NxVersion[] {
  const raw = env.FLEET_E2E_NX_VERSIONS;
  let versions: NxVersion[];
  if (raw === undefined || raw.trim() === '') versions = [...DEFAULT_E2E_NX_VERSIONS];
  else {
    const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const unknown = names.filter((name) => !isNxVersion(name));
    if (unknown.length > 0) {
      throw new Error(
        `FLEET_E2E_NX_VERSIONS: unknown Nx version${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; ` +
          `known: ${NX_VERSIONS.join(', ')}`,
      );
    }
    versions = [...new Set(names as NxVersion[])];
  }
  if (env.FLEET_E2E_SKIP_19 === '1') versions = versions.filter((v) => v !== '19.8.14');
  if (versions.length === 0) throw new Error('FLEET_E2E_NX_VERSIONS / FLEET_E2E_SKIP_19 leave no Nx version to test');
  return versions;
}
