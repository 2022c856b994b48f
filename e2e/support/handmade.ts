import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** One `nx:run-commands` target. `command` runs in a shell at the workspace root. */
export interface TargetSpec {
  readonly command: string;
  readonly dependsOn?: ReadonlyArray<string | Record<string, unknown>>;
  readonly inputs?: ReadonlyArray<string | Record<string, unknown>>;
  readonly outputs?: readonly string[];
  /** Overrides nx.json targetDefaults (build, test, lint and second are cacheable there). */
  readonly cache?: boolean;
}

export interface ProjectSpec {
  /** Project root relative to the workspace; default `packages/<name>`. */
  readonly root?: string;
  readonly implicitDependencies?: readonly string[];
  readonly targets: Record<string, TargetSpec>;
  /** Extra files, relative to the project root. A value `{ content, mode }` sets the mode. */
  readonly files?: Record<string, string | { readonly content: string; readonly mode: number }>;
}

export interface HandmadeOptions {
  /** Written into the root package.json devDependencies (documentation only: node_modules is provided). */
  readonly nxVersion?: string;
}

function write(file: string, content: string, mode?: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  if (mode !== undefined) chmodSync(file, mode);
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

const CACHEABLE = { cache: true };

/**
 * Writes a workspace of `nx:run-commands` projects into `dir`: package.json, nx.json (targetDefaults make
 * build/test/lint/second cacheable and build depend on ^build), .gitignore and one project.json per project.
 * Does not provide node_modules.
 */
export function writeHandmadeWorkspace(dir: string, projects: Record<string, ProjectSpec>, options: HandmadeOptions = {}): void {
  write(
    join(dir, 'package.json'),
    json({
      name: 'handmade',
      version: '0.0.0',
      private: true,
      devDependencies: options.nxVersion ? { nx: options.nxVersion } : {},
    }),
  );
  write(
    join(dir, 'nx.json'),
    json({
      $schema: './node_modules/nx/schemas/nx-schema.json',
      namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
      targetDefaults: {
        build: { ...CACHEABLE, dependsOn: ['^build'], inputs: ['production', '^production'] },
        test: CACHEABLE,
        lint: CACHEABLE,
        second: CACHEABLE,
      },
    }),
  );
  write(join(dir, '.gitignore'), ['node_modules', 'dist', '.nx/cache', '.nx/workspace-data', '.home', '.markers', ''].join('\n'));
  for (const [name, spec] of Object.entries(projects)) {
    const root = spec.root ?? `packages/${name}`;
    const targets: Record<string, unknown> = {};
    for (const [targetName, target] of Object.entries(spec.targets)) {
      targets[targetName] = {
        executor: 'nx:run-commands',
        options: { command: target.command },
        ...(target.dependsOn ? { dependsOn: target.dependsOn } : {}),
        ...(target.inputs ? { inputs: target.inputs } : {}),
        ...(target.outputs ? { outputs: target.outputs } : {}),
        ...(target.cache !== undefined ? { cache: target.cache } : {}),
      };
    }
    write(
      join(dir, root, 'project.json'),
      json({ name, root, projectType: 'library', implicitDependencies: spec.implicitDependencies ?? [], targets }),
    );
    for (const [file, content] of Object.entries(spec.files ?? {})) {
      if (typeof content === 'string') write(join(dir, root, file), content);
      else write(join(dir, root, file), content.content, content.mode);
    }
  }
}

/** Text a:build writes to dist/a/data.txt; b's targets copy it. */
export const A_DATA = 'data-of-a';

/**
 * The default handmade workspace: b depends on a (implicitDependencies).
 * - a:build → dist/a/sub/index.js, dist/a/bin.sh (mode 755), dist/a/data.txt
 * - b:build (dependsOn ^build) → dist/b/out.txt (a's data + "+b")
 * - a:test passes; b:test prints `FAIL marker-b-test`, writes .markers/b-test-ran-<FLEET_MARKER_ID|local>, exits 1
 * - b:second reads a's output with inputs [{ dependentTasksOutputFiles: '**\/*.txt' }] (a deferred-hash task)
 *   → dist/b-second/second.txt
 * - a:lint, b:lint pass
 */
export function defaultHandmadeProjects(): Record<string, ProjectSpec> {
  return {
    a: {
      targets: {
        build: { command: 'sh packages/a/build.sh', outputs: ['{workspaceRoot}/dist/a'] },
        test: { command: 'echo PASS marker-a-test' },
        lint: { command: 'echo lint-ok-a' },
      },
      files: {
        'build.sh': [
          'set -e',
          'rm -rf dist/a',
          'mkdir -p dist/a/sub',
          `echo "module.exports = 'a';" > dist/a/sub/index.js`,
          `printf '#!/bin/sh\\necho bin-of-a\\n' > dist/a/bin.sh`,
          'chmod 755 dist/a/bin.sh',
          `echo ${A_DATA} > dist/a/data.txt`,
          'echo built-a',
          '',
        ].join('\n'),
      },
    },
    b: {
      implicitDependencies: ['a'],
      targets: {
        build: { command: 'sh packages/b/build.sh', outputs: ['{workspaceRoot}/dist/b'] },
        test: { command: 'sh packages/b/test.sh' },
        lint: { command: 'echo lint-ok-b' },
        second: {
          command: 'sh packages/b/second.sh',
          dependsOn: ['^build'],
          inputs: [{ dependentTasksOutputFiles: '**/*.txt' }],
          outputs: ['{workspaceRoot}/dist/b-second'],
        },
      },
      files: {
        'build.sh': ['set -e', 'mkdir -p dist/b', 'echo "$(cat dist/a/data.txt)+b" > dist/b/out.txt', 'echo built-b', ''].join('\n'),
        'test.sh': [
          'mkdir -p .markers',
          'echo ran > ".markers/b-test-ran-${FLEET_MARKER_ID:-local}"',
          'echo FAIL marker-b-test',
          'exit 1',
          '',
        ].join('\n'),
        'second.sh': ['set -e', 'mkdir -p dist/b-second', 'echo "second:$(cat dist/a/data.txt)" > dist/b-second/second.txt', ''].join('\n'),
      },
    },
  };
}
