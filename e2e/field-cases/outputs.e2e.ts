/**
 * Field cases about output files restored on main (see docs/field-cases.md), on the newest Nx of
 * e2eNxVersions(), one coordinator, one workspace shape:
 *  - FC-13 archive entry names: the artifact an agent stores has no `\` in any entry name and restores on
 *    main; an archive made on Windows (entry names with `\`) is never a hit that writes no file, in a run
 *    and with the coordinator as a plain remote cache.
 *  - FC-14 file modes: 755 and 644 come back as they were, bin.sh runs, setuid/setgid/sticky never do.
 *  - FC-17 partially deleted outputs: 49 files, `rm -rf` of a sub-folder, rerun: all 49 back and equal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { cleanupAll, runToEnd } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import { fleetEnv, fleetWorkspaces, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { customProjects, distributedRun, salt, localCacheHashes, logFlags, newestNxVersion, sha256File, storedArtifacts } from './field-support';

jest.setTimeout(6 * 60_000);

const version = newestNxVersion();

const BUILD = [
  'set -e',
  'rm -rf dist/a',
  'mkdir -p dist/a/sub dist/a/sticky',
  `echo "module.exports = 'a';" > dist/a/sub/index.js`,
  `printf '#!/bin/sh\\necho bin-of-a\\n' > dist/a/bin.sh`,
  'chmod 755 dist/a/bin.sh',
  'echo data-of-a > dist/a/data.txt',
  'chmod 644 dist/a/data.txt',
  `printf '#!/bin/sh\\necho suid\\n' > dist/a/suid.sh`,
  'chmod 4755 dist/a/suid.sh',
  `printf '#!/bin/sh\\necho sgid\\n' > dist/a/sgid.sh`,
  'chmod 2755 dist/a/sgid.sh',
  'echo in-sticky > dist/a/sticky/file.txt',
  'chmod 1777 dist/a/sticky',
  'echo built-a',
  '',
].join('\n');

/** 49 files: 24 under x/, 25 under y/ (y/nested/ holds some), each with its own content. */
const MANY = [
  'set -e',
  'rm -rf dist/many',
  'mkdir -p dist/many/x dist/many/y/nested',
  'i=1; while [ $i -le 24 ]; do echo "x-$i" > dist/many/x/f$i.txt; i=$((i+1)); done',
  'i=25; while [ $i -le 40 ]; do echo "y-$i" > dist/many/y/f$i.txt; i=$((i+1)); done',
  'i=41; while [ $i -le 49 ]; do echo "n-$i" > dist/many/y/nested/f$i.txt; i=$((i+1)); done',
  'echo built-many',
  '',
].join('\n');

const PROJECTS: Record<string, ProjectSpec> = {
  a: {
    targets: {
      build: { command: 'sh packages/a/build.sh', outputs: ['{workspaceRoot}/dist/a'] },
      many: { command: 'sh packages/a/many.sh', outputs: ['{workspaceRoot}/dist/many'], cache: true },
    },
    files: { 'build.sh': BUILD, 'many.sh': MANY },
  },
};

/** Entry names of a (gzipped) tar archive, with GNU tar. */
function tarEntries(file: string): string[] {
  return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe(`output field cases, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('FC-13 + FC-14: a:build from an agent restores sub/index.js and the 755/644 modes, never setuid/setgid/sticky; no entry name has a backslash', async () => {
    const before = new Set(storedArtifacts(coordinator).keys());
    const run = await distributedRun(coordinator, template, version, ['run', 'a:build'], { agents: 1, prepare: customProjects(PROJECTS) });
    expect(run.main).toExitWith(0);
    expect(run.main.stdout).toContain('built-a');
    expect(tasksRunBy(run.agents[0])).toEqual(['a:build']);

    // FC-13: the artifact the agent stored
    const added = [...storedArtifacts(coordinator).keys()].filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const entries = tarEntries(join(coordinator.dataDir, 'blobs', 'default', added[0]));
    expect(entries.some((e) => e.includes('dist/a/sub/index.js'))).toBe(true);
    expect(entries.filter((e) => e.includes('\\'))).toEqual([]);

    const got = digestTree(join(run.ws.main, 'dist/a'));
    const made = digestTree(join(run.ws.agents[0], 'dist/a'));
    expect(Object.keys(got).sort()).toEqual(Object.keys(made).sort());
    for (const file of Object.keys(made)) expect(got[file].sha256).toBe(made[file].sha256);
    expect(made['suid.sh'].mode).toBe(0o4755); // the agent really made them special…
    expect(made['sgid.sh'].mode).toBe(0o2755);
    // FC-14: …main restores the permission bits only
    expect(got['bin.sh'].mode).toBe(0o755);
    expect(got['data.txt'].mode).toBe(0o644);
    expect(got['sub/index.js'].mode & 0o7000).toBe(0);
    expect(got['suid.sh'].mode & 0o7000).toBe(0);
    expect(got['sgid.sh'].mode & 0o7000).toBe(0);
    expect(statSync(join(run.ws.main, 'dist/a/sticky')).mode & 0o7000).toBe(0);
    const bin = await runToEnd('bin.sh', './dist/a/bin.sh', [], { cwd: run.ws.main, env: { PATH: process.env.PATH ?? '' }, timeoutMs: 10_000 });
    expect(bin).toExitWith(0);
    expect(bin.stdout.trim()).toBe('bin-of-a');
  });

  /** Learns the hash main computes for a:build and PUTs, under it, the outputs archived with `\` separators. */
  async function putWindowsArchive(main: string): Promise<string> {
    // the hash: a local run in a copy, without Fleet's cache
    const probe = await copyWorkspace(main);
    const local = await nx(probe, fleetEnv(probe, coordinator, { runId: 'unused', extra: { FLEET_TOKEN: undefined, FLEET_RUN_ID: undefined } }), ['run', 'a:build']);
    expect(local).toExitWith(0);
    const hashes = localCacheHashes(join(probe, '.nx/cache'));
    expect(hashes).toHaveLength(1);
    const hash = hashes[0];
    // the same outputs, archived the way a Windows agent building names with path.join would
    const stage = mkdtempSync(join(tmpdir(), 'fleet-fc13-'));
    writeFileSync(join(stage, 'terminalOutput'), 'built-a (on windows)\n');
    const code = Buffer.alloc(4);
    code.writeInt32BE(0, 0);
    writeFileSync(join(stage, 'code'), code);
    const names = ['dist\\a\\sub\\index.js', 'dist\\a\\data.txt'];
    for (const name of names) writeFileSync(join(stage, name), `content of ${name}\n`);
    const archive = join(stage, 'artifact.tar.gz');
    execFileSync('tar', ['--no-unquote', '-czf', archive, '-C', stage, 'terminalOutput', 'code', ...names]);
    expect(tarEntries(archive).filter((e) => e.includes('\\'))).toHaveLength(2);
    const put = await fetch(`${coordinator.url}/v1/cache/${hash}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${coordinator.token}`,
        'content-type': 'application/octet-stream',
        'x-fleet-branch': 'main',
        'x-fleet-sha256': sha256File(archive),
      },
      body: readFileSync(archive),
    });
    expect(put.status).toBe(200);
    return hash;
  }

  it('FC-13: an artifact archived on Windows (entry names with backslashes) is a miss with a warning, never a hit that restores no file', async () => {
    let hash = '';
    const run = await distributedRun(coordinator, template, version, ['run', 'a:build'], {
      agents: 1,
      prepare: customProjects(PROJECTS, salt('a')),
      beforeStart: async (ws) => {
        hash = await putWindowsArchive(ws.main);
      },
    });
    expect(run.main).toExitWith(0);
    // the agent's relay refused the entry, so the agent built a:build (its PUT is a 409: the bad entry stays)
    expect(tasksRunBy(run.agents[0])).toEqual(['a:build']);
    expect(run.agents[0].output).toContain(`cache entry ${hash} was archived with Windows path separators`);
    // main's relay refused it too and main built a:build itself
    expect(run.main.output).toContain(`cache entry ${hash} was archived with Windows path separators`);
    expect(run.main.stdout).toContain('built-a');
    expect(readdirSync(run.ws.main).filter((name) => name.includes('\\'))).toEqual([]);
    expect(readFileSync(join(run.ws.main, 'dist/a/sub/index.js'), 'utf8')).toBe("module.exports = 'a';\n");
    expect(existsSync(join(run.ws.main, 'dist/a/data.txt'))).toBe(true);
  });

  it('FC-13 remote cache: an artifact archived on Windows is never a hit that restores no file (coordinator as plain remote cache)', async () => {
    const { main } = await fleetWorkspaces(template, coordinator, 0, customProjects(PROJECTS, salt('a')));
    const probe = await copyWorkspace(main);
    const local = await nx(probe, fleetEnv(probe, coordinator, { runId: 'unused', extra: { FLEET_TOKEN: undefined, FLEET_RUN_ID: undefined } }), ['run', 'a:build']);
    expect(local).toExitWith(0);
    const [hash] = localCacheHashes(join(probe, '.nx/cache'));
    const stage = mkdtempSync(join(tmpdir(), 'fleet-fc13-'));
    writeFileSync(join(stage, 'terminalOutput'), 'built-a (on windows)\n');
    writeFileSync(join(stage, 'code'), Buffer.alloc(4));
    const names = ['dist\\a\\sub\\index.js', 'dist\\a\\data.txt'];
    for (const name of names) writeFileSync(join(stage, name), 'x\n');
    const archive = join(stage, 'artifact.tar.gz');
    execFileSync('tar', ['--no-unquote', '-czf', archive, '-C', stage, 'terminalOutput', 'code', ...names]);
    const put = await fetch(`${coordinator.url}/v1/cache/${hash}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${coordinator.token}`,
        'content-type': 'application/octet-stream',
        'x-fleet-branch': 'main',
        'x-fleet-sha256': sha256File(archive),
      },
      body: readFileSync(archive),
    });
    expect(put.status).toBe(200);
    const result = await nx(main, fleetEnv(main, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } }), ['run', 'a:build', ...logFlags(version)]);
    expect(result).toExitWith(0);
    expect(result.output).toContain(`cache entry ${hash} was archived with Windows path separators`);
    expect(result.stdout).toContain('built-a');
    expect(readdirSync(main).filter((name) => name.includes('\\'))).toEqual([]);
    expect(existsSync(join(main, 'dist/a/sub/index.js'))).toBe(true);
  });

  it('FC-17: after rm -rf of a sub-folder of 49 outputs, the rerun is a cache hit that brings all 49 back', async () => {
    const run = await distributedRun(coordinator, template, version, ['run', 'a:many'], { agents: 1, prepare: customProjects(PROJECTS) });
    expect(run.main).toExitWith(0);
    expect(tasksRunBy(run.agents[0])).toEqual(['a:many']);
    const want = digestTree(join(run.ws.agents[0], 'dist/many'));
    expect(Object.keys(want)).toHaveLength(49);
    expect(digestTree(join(run.ws.main, 'dist/many'))).toEqual(want);

    rmSync(join(run.ws.main, 'dist/many/x'), { recursive: true });
    rmSync(join(run.ws.main, 'dist/many/y/nested/f45.txt'));
    // the rerun on the same checkout, the coordinator as remote cache (the run is over)
    const env = fleetEnv(run.ws.main, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } });
    const again = await nx(run.ws.main, env, ['run', 'a:many', ...logFlags(version)]);
    expect(again).toExitWith(0);
    expect(again.stdout).toMatch(/read the output from the cache instead of running the command for 1 out of 1 tasks/);
    expect(digestTree(join(run.ws.main, 'dist/many'))).toEqual(want);
  });
});
