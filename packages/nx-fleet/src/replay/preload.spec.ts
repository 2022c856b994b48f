import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stageReplay } from './staging';
import { writeRawArchive } from './tar-fixtures';

/** The built preload, as Nx's task processes on main load it (NODE_OPTIONS=--require). */
const PRELOAD = resolve(__dirname, '../../dist/replay/preload.js');

function runTask(dir: string, root: string): ReturnType<typeof spawnSync> {
  if (!existsSync(PRELOAD)) throw new Error(`${PRELOAD} is missing: run \`npm run build\` first (npm test does)`);
  return spawnSync(process.execPath, ['-r', PRELOAD, '-e', 'console.log("THE TASK RAN")'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      FLEET_REPLAY_DIR: dir,
      NX_WORKSPACE_ROOT: root,
      NX_TASK_TARGET_PROJECT: 'a',
      NX_TASK_TARGET_TARGET: 'build',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('the replay preload on main', () => {
  it("shows an agent's failure with its log and exit code, and restores its outputs", () => {
    const base = mkdtempSync(join(tmpdir(), 'fleet-preload-'));
    const root = join(base, 'ws');
    mkdirSync(root);
    const archive = writeRawArchive(join(base, 'a.tar.gz'), [{ path: 'dist/a/out.txt', body: 'made on the agent\n' }], 3);
    stageReplay(join(base, 'replay'), { taskId: 'a:build', exitCode: 3, banner: '[fleet] a:build failed on agent-1' }, archive);
    const result = runTask(join(base, 'replay'), root);
    expect(result.status).toBe(3);
    expect(result.stdout).toBe('[fleet] a:build failed on agent-1\nbuilt\n');
    expect(existsSync(join(root, 'dist/a/out.txt'))).toBe(true);
  });

  it('an unsafe archive restores nothing, says why, and still shows the failure instead of running the task', () => {
    const base = mkdtempSync(join(tmpdir(), 'fleet-preload-'));
    const root = join(base, 'ws');
    mkdirSync(root);
    const archive = writeRawArchive(
      join(base, 'evil.tar.gz'),
      [
        { path: 'dist/a/ok.txt', body: 'fine\n' },
        { path: 'dist/a/escape', type: 'SymbolicLink', linkpath: '../../../outside' },
      ],
      2,
    );
    stageReplay(join(base, 'replay'), { taskId: 'a:build', exitCode: 2, banner: '[fleet] a:build failed on agent-1' }, archive);
    const result = runTask(join(base, 'replay'), root);
    expect(result.status).toBe(2);
    expect(result.stdout).toContain('[fleet] a:build failed on agent-1');
    expect(result.stdout).not.toContain('THE TASK RAN');
    expect(result.stderr).toMatch(/a:build: the agent's outputs were not restored: .*dist\/a\/escape/);
    expect(readdirSync(root)).toEqual([]);
  });
});
