import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isolatedEnv } from '../support/env';
import { assertExit, runNx, summarizeGraph } from '../support/nx-cli';
import { cleanupAll } from '../support/processes';
import { COMPLETE_MARKER } from '../support/template-cache';
import { digestTree } from '../support/tree-digest';
import {
  A_DATA,
  copyWorkspace,
  generatedWorkspaceTemplate,
  handmadeWorkspaceTemplate,
  LIB_COUNT,
  RECIPES,
  removeWorkspaceCopy,
  type NxVersion,
} from '../support/workspaces';

jest.setTimeout(5 * 60_000);

const versions: NxVersion[] = process.env.FLEET_E2E_SKIP_19 === '1' ? ['20.8.4'] : ['20.8.4', '19.8.14'];
const copies: string[] = [];

async function copyOf(template: string): Promise<string> {
  const ws = await copyWorkspace(template);
  copies.push(ws);
  return ws;
}

/** Files under node_modules changed since the template was completed (hard links would leak writes back). */
function touchedSinceComplete(template: string): string {
  const marker = join(dirname(template), COMPLETE_MARKER);
  return execFileSync('find', [join(template, 'node_modules'), '-newer', marker, '-type', 'f'], { encoding: 'utf8' }).trim();
}

afterAll(async () => {
  await cleanupAll();
  copies.forEach(removeWorkspaceCopy);
});

describe.each(versions)('generated template, Nx %s', (version) => {
  const recipe = RECIPES[version];
  const names = Array.from({ length: LIB_COUNT }, (_, i) => recipe.projectName(i + 1));

  it('has lib1..lib6 in a dependency chain, each with build, test and lint', async () => {
    const ws = await copyOf(await generatedWorkspaceTemplate(version));
    const result = await runNx(ws, ['graph', '--file=graph.json']);
    assertExit(result, 0);
    const graph = summarizeGraph(readFileSync(join(ws, 'graph.json'), 'utf8'));
    expect(Object.keys(graph.nodes).sort()).toEqual([...names].sort());
    names.forEach((name, i) => {
      expect(graph.dependencies[name]).toEqual(i === 0 ? [] : [names[i - 1]]);
      expect(graph.nodes[name].targets).toEqual(expect.arrayContaining(['build', 'test', 'lint']));
      expect(graph.nodes[name].root).toBe(`packages/lib${i + 1}`);
    });
  });

  it('is a clean git repo with an identity, so nx affected works', async () => {
    const ws = await copyOf(await generatedWorkspaceTemplate(version));
    const env = isolatedEnv(ws);
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ws, env, encoding: 'utf8' }).trim();
    expect(git('status', '--porcelain')).toBe('');
    expect(git('config', 'user.email')).not.toBe('');
    const affected = await runNx(ws, ['show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD']);
    expect(affected).toExitWith(0);
    expect(affected.stdout.split('\n').filter(Boolean).sort()).toEqual([...names].sort());
  });

  it('passes nx run-many -t build test lint in a copy, leaving the template untouched', async () => {
    const template = await generatedWorkspaceTemplate(version);
    const ws = await copyOf(template);
    const result = await runNx(ws, ['run-many', '-t', 'build', 'test', 'lint'], { timeoutMs: 10 * 60_000 });
    assertExit(result, 0);
    expect(result.output).toMatch(/Successfully ran targets build, test, lint for 6 projects/);
    expect(existsSync(join(template, '.nx', 'cache'))).toBe(false);
    expect(existsSync(join(template, 'packages', 'lib1', 'dist'))).toBe(false);
    expect(existsSync(join(template, 'dist'))).toBe(false);
    expect(touchedSinceComplete(template)).toBe('');
  });
});

describe.each(versions)('handmade template, Nx %s', (version) => {
  it('a:build writes nested outputs, bin.sh with mode 755', async () => {
    const ws = await copyOf(await handmadeWorkspaceTemplate(version));
    const result = await runNx(ws, ['run', 'a:build']);
    assertExit(result, 0);
    const digest = digestTree(join(ws, 'dist', 'a'));
    expect(Object.keys(digest)).toEqual(['bin.sh', 'data.txt', 'sub/index.js']);
    expect(digest['bin.sh'].mode).toBe(0o755);
    expect(statSync(join(ws, 'dist', 'a', 'data.txt')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(ws, 'dist', 'a', 'data.txt'), 'utf8').trim()).toBe(A_DATA);
  });

  it('b:build runs a:build first; b:second reads a output as a deferred-hash input', async () => {
    const ws = await copyOf(await handmadeWorkspaceTemplate(version));
    const result = await runNx(ws, ['run-many', '-t', 'build', 'second']);
    assertExit(result, 0);
    expect(readFileSync(join(ws, 'dist', 'b', 'out.txt'), 'utf8').trim()).toBe(`${A_DATA}+b`);
    expect(readFileSync(join(ws, 'dist', 'b-second', 'second.txt'), 'utf8').trim()).toBe(`second:${A_DATA}`);
    const again = await runNx(ws, ['run-many', '-t', 'build', 'second']);
    expect(again).toExitWith(0);
    expect(again.output).toMatch(/existing outputs match the cache|local cache/);
  });

  it('b:test fails with exit 1, prints FAIL marker-b-test and leaves a marker naming where it ran', async () => {
    const ws = await copyOf(await handmadeWorkspaceTemplate(version));
    const local = await runNx(ws, ['run', 'b:test']);
    expect(local).toExitWith(1);
    expect(local.output).toContain('FAIL marker-b-test');
    expect(existsSync(join(ws, '.markers', 'b-test-ran-local'))).toBe(true);
    const tagged = await runNx(ws, ['run', 'b:test', '--skip-nx-cache'], { env: isolatedEnv(ws, { FLEET_MARKER_ID: 'agent-7' }) });
    expect(tagged).toExitWith(1);
    expect(existsSync(join(ws, '.markers', 'b-test-ran-agent-7'))).toBe(true);
    const aTest = await runNx(ws, ['run', 'a:test']);
    expect(aTest).toExitWith(0);
  });
});

describe('copies', () => {
  it('are independent of each other and of the template', async () => {
    const template = await handmadeWorkspaceTemplate('20.8.4');
    const before = digestTree(template, { exclude: ['node_modules'] });
    const [one, two] = [await copyOf(template), await copyOf(template)];
    expect(digestTree(one, { exclude: ['node_modules'] })).toEqual(before);
    expect(await runNx(one, ['run', 'b:build'])).toExitWith(0);
    expect(existsSync(join(one, 'dist', 'b', 'out.txt'))).toBe(true);
    expect(existsSync(join(two, 'dist'))).toBe(false);
    expect(existsSync(join(two, '.nx', 'cache'))).toBe(false);
    expect(digestTree(template, { exclude: ['node_modules'] })).toEqual(before);
    expect(await runNx(two, ['run', 'b:build'])).toExitWith(0);
    expect(digestTree(join(two, 'dist'))).toEqual(digestTree(join(one, 'dist')));
    expect(execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: two, encoding: 'utf8' }).trim()).toBe(two);
  });

  it('resolve workspace packages inside the copy, not the template (Nx 20 npm workspaces)', async () => {
    const ws = await copyOf(await generatedWorkspaceTemplate('20.8.4'));
    const resolved = execFileSync(process.execPath, ['-p', "require('fs').realpathSync('node_modules/@demo/lib1')"], {
      cwd: ws,
      encoding: 'utf8',
    }).trim();
    expect(resolved).toBe(join(ws, 'packages', 'lib1'));
  });
});

describe('isolatedEnv', () => {
  it('keeps HOME and Nx caches inside the workspace and drops outer NX_/FLEET_ variables', async () => {
    const ws = await copyOf(await handmadeWorkspaceTemplate('20.8.4'));
    const env = isolatedEnv(ws, { FLEET_MARKER_ID: 'kept' });
    expect(env.HOME).toBe(join(ws, '.home'));
    expect(existsSync(env.HOME)).toBe(true);
    expect(env).toMatchObject({ NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', CI: 'true', FORCE_COLOR: '0' });
    expect(env.FLEET_MARKER_ID).toBe('kept');
    const home = execFileSync(process.execPath, ['-p', "require('os').homedir()"], { cwd: ws, env, encoding: 'utf8' }).trim();
    expect(home).toBe(join(ws, '.home'));
    expect(await runNx(ws, ['run', 'a:build'], { env })).toExitWith(0);
    expect(existsSync(join(ws, '.nx', 'cache'))).toBe(true);
  });

  it.each(['24.0.6'] as NxVersion[])(
    'on Nx %s (cache under the home folder by default) a run writes under the workspace only, never the real HOME',
    async (version) => {
      const realHome = homedir();
      const nxPlaces = ['.nx', '.cache/nx', '.local/share/nx'].map((p) => join(realHome, p));
      const listing = (): string => nxPlaces.map((dir) => `${dir}:${existsSync(dir) ? readdirSync(dir).sort().join(',') : '-'}`).join('\n');
      const before = listing();
      const ws = await copyOf(await handmadeWorkspaceTemplate(version));
      const env = isolatedEnv(ws);
      expect(await runNx(ws, ['run', 'a:build'], { env })).toExitWith(0);
      expect(readdirSync(join(ws, '.nx', 'cache')).length).toBeGreaterThan(0);
      expect(existsSync(join(ws, '.nx', 'workspace-data'))).toBe(true);
      expect(listing()).toBe(before);
    },
  );

  it('does not pass on NX_ / FLEET_ variables set in the outer environment', () => {
    const saved = { NX_FOO: process.env.NX_FOO, FLEET_BAR: process.env.FLEET_BAR };
    process.env.NX_FOO = 'outer';
    process.env.FLEET_BAR = 'outer';
    const probe = mkdtempSync(join(tmpdir(), 'fleet-e2e-env-'));
    try {
      const env = isolatedEnv(probe);
      expect(env.NX_FOO).toBeUndefined();
      expect(env.FLEET_BAR).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      rmSync(probe, { recursive: true, force: true });
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
