import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv } from './env';
import { E2eError } from './errors';
import { GIT_EMAIL, GIT_NAME } from './git';
import { LIB_COUNT, RECIPES, WORKSPACE_NAME, type NxRecipe, type NxVersion } from './nx-versions';
import { nxBin } from './nx-cli';
import { runOk, type RunResult } from './processes';

export type Progress = (line: string) => void;

interface Step {
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly logFile: string;
  readonly progress: Progress;
  /** Seconds per step label, written to `<cacheDir>/timings.json`. */
  readonly timings: Record<string, number>;
}

async function step(ctx: Step, label: string, command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const startedAt = Date.now();
  ctx.progress(`${label} …`);
  const result = await runOk(label, command, args, { cwd: ctx.cwd, env: ctx.env, logFile: ctx.logFile, timeoutMs });
  const seconds = Math.round((Date.now() - startedAt) / 100) / 10;
  ctx.timings[label] = seconds;
  ctx.progress(`${label} done in ${seconds} s`);
  return result;
}

function editJson(file: string, edit: (value: Record<string, unknown>) => void): void {
  const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** lib(n)'s source calls lib(n-1) and its spec checks the whole chain: lib3() === 'lib3(lib2(lib1))'. */
function chainValue(n: number): string {
  return n === 1 ? 'lib1' : `lib${n}(${chainValue(n - 1)})`;
}

function linkLibrary(workspace: string, recipe: NxRecipe, n: number): void {
  const root = join(workspace, 'packages', `lib${n}`);
  const prev = n - 1;
  writeFileSync(
    join(root, 'src', 'lib', `lib${n}.ts`),
    [
      `import { lib${prev} } from '${recipe.importPath(prev)}';`,
      '',
      `export function lib${n}(): string {`,
      `  return \`lib${n}(\${lib${prev}()})\`;`,
      '}',
      '',
    ].join('\n'),
  );
  const specFile = join(root, 'src', 'lib', `lib${n}.spec.ts`);
  const spec = readFileSync(specFile, 'utf8');
  const expected = `expect(lib${n}()).toEqual('lib${n}');`;
  if (!spec.includes(expected)) throw new E2eError('TEMPLATE_FAILED', `unexpected generated spec in ${specFile}:\n${spec}`);
  writeFileSync(specFile, spec.replace(expected, `expect(lib${n}()).toEqual('${chainValue(n)}');`));
  const prevPkg = JSON.parse(readFileSync(join(workspace, 'packages', `lib${prev}`, 'package.json'), 'utf8')) as { version: string };
  const range = recipe.dependencyRange === '*' ? '*' : prevPkg.version;
  editJson(join(root, 'package.json'), (pkg) => {
    pkg.dependencies = { ...(pkg.dependencies as Record<string, string> | undefined), [recipe.importPath(prev)]: range };
  });
}

/** Expands one `*` segment of a relative pattern such as 'packages/*\/dist'. */
function expand(workspace: string, pattern: string): string[] {
  const star = pattern.split('/').indexOf('*');
  if (star < 0) return [join(workspace, pattern)];
  const parts = pattern.split('/');
  const parent = join(workspace, ...parts.slice(0, star));
  if (!existsSync(parent)) return [];
  return readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory()) // packages/.gitkeep is a file
    .map((entry) => join(parent, entry.name, ...parts.slice(star + 1)));
}

/** Removes build and cache leftovers so the template starts cold. */
export function cleanLeftovers(workspace: string, leftovers: readonly string[]): void {
  for (const pattern of leftovers) for (const path of expand(workspace, pattern)) rmSync(path, { recursive: true, force: true });
}

/**
 * Builds the generated template in `cacheDir/demo` with Nx's own generators. HOME is `cacheDir/home`;
 * npm's cache stays the real one. Every command's output goes to `cacheDir/create.log`.
 */
export async function buildGeneratedTemplate(cacheDir: string, nxVersion: NxVersion, progress: Progress): Promise<string> {
  const recipe = RECIPES[nxVersion];
  const home = join(cacheDir, 'home');
  mkdirSync(home, { recursive: true });
  const env = baseEnv({
    HOME: home,
    NX_DAEMON: 'false',
    NX_TUI: 'false',
    NX_NO_CLOUD: 'true',
    CI: 'true',
    NX_NATIVE_FILE_CACHE_DIRECTORY: join(home, '.nx-native'),
    GIT_AUTHOR_NAME: GIT_NAME,
    GIT_AUTHOR_EMAIL: GIT_EMAIL,
    GIT_COMMITTER_NAME: GIT_NAME,
    GIT_COMMITTER_EMAIL: GIT_EMAIL,
  });
  const logFile = join(cacheDir, 'create.log');
  const tag = `[fleet-e2e ${nxVersion}]`;
  const timings: Record<string, number> = {};
  const outer: Step = { cwd: cacheDir, env, logFile, timings, progress: (line) => progress(`${tag} ${line}`) };
  const startedAt = Date.now();
  const workspace = join(cacheDir, WORKSPACE_NAME);
  const inWs: Step = { ...outer, cwd: workspace };
  const generatorVersion = recipe.generatorVersion ?? nxVersion;
  const nx = (): string[] => [nxBin(workspace)];
  const node = process.execPath;

  await step(
    outer,
    `create-nx-workspace@${generatorVersion} --preset=${recipe.preset}`,
    'npx',
    ['-y', `create-nx-workspace@${generatorVersion}`, WORKSPACE_NAME, `--preset=${recipe.preset}`, '--nxCloud=skip', '--packageManager=npm', '--no-interactive'],
    10 * 60_000,
  );
  await runOk('git config', 'git', ['config', 'user.name', GIT_NAME], { cwd: workspace, env, timeoutMs: 30_000 });
  await runOk('git config', 'git', ['config', 'user.email', GIT_EMAIL], { cwd: workspace, env, timeoutMs: 30_000 });
  const pins = Object.entries(recipe.devDependencyPins ?? {}).map(([name, range]) => `${name}@${range}`);
  if (pins.length > 0) {
    await step(inWs, `npm install ${pins.join(' ')}`, 'npm', ['install', '--save-dev', '--prefer-offline', ...pins], 5 * 60_000);
  }
  for (let n = 1; n <= LIB_COUNT; n++) {
    await step(inWs, `nx g @nx/js:library lib${n}`, node, [...nx(), 'g', '@nx/js:library', ...recipe.libraryArgs(n)], 5 * 60_000);
  }
  for (let n = 2; n <= LIB_COUNT; n++) linkLibrary(workspace, recipe, n);
  if (recipe.npmWorkspaces) {
    await step(inWs, 'npm install (workspace links)', 'npm', ['install', '--prefer-offline'], 5 * 60_000);
    await step(inWs, 'nx sync', node, [...nx(), 'sync'], 2 * 60_000);
  }
  if (generatorVersion !== nxVersion) {
    // the registry has no @nx/js/@nx/jest at nxVersion: keep the plugins the generators installed, pin nx alone
    await step(inWs, `npm install nx@${nxVersion}`, 'npm', ['install', '--save-dev', '--save-exact', '--prefer-offline', `nx@${nxVersion}`], 5 * 60_000);
    const installed = (JSON.parse(readFileSync(join(workspace, 'node_modules/nx/package.json'), 'utf8')) as { version: string }).version;
    if (installed !== nxVersion) throw new E2eError('TEMPLATE_FAILED', `node_modules/nx is ${installed}, not ${nxVersion}`);
  }
  await step(inWs, 'nx run-many -t build test lint', node, [...nx(), 'run-many', '-t', 'build', 'test', 'lint'], 10 * 60_000);
  await step(inWs, 'nx reset', node, [...nx(), 'reset'], 2 * 60_000);
  cleanLeftovers(workspace, recipe.buildLeftovers);
  await runOk('git add', 'git', ['add', '-A'], { cwd: workspace, env, timeoutMs: 60_000 });
  const message = `lib1..lib${LIB_COUNT} dependency chain (Fleet e2e template)`;
  await runOk('git commit', 'git', ['commit', '-q', '-m', message], { cwd: workspace, env, timeoutMs: 60_000 });
  const status = await runOk('git status', 'git', ['status', '--porcelain'], { cwd: workspace, env, timeoutMs: 60_000 });
  if (status.stdout.trim() !== '') throw new E2eError('TEMPLATE_FAILED', `template not clean after commit:\n${status.stdout}`);
  timings.total = Math.round((Date.now() - startedAt) / 100) / 10;
  writeFileSync(join(cacheDir, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  progress(`${tag} template ready in ${timings.total} s`);
  return workspace;
}
