/**
 * Field cases about the cache's integrity (see docs/field-cases.md), one coordinator for the file:
 *  - FC-07 a cache PUT answered with 502 never turns a green run red (every Nx of e2eNxVersions(): the
 *    front doors differ): one 502 on an agent's upload is retried, bounded, and the run stays green with
 *    the artifact restored on main; a coordinator that answers every PUT with 502 gives one warning naming
 *    the hash and a bounded number of attempts, and exit 0. (On Nx 21+ outside a run this failed the task
 *    until the plugin put a relay in front of Nx's cache there too, commit f90ab53.)
 *  - FC-18 a PUT whose connection drops half-way stores nothing (GET is a 404), blocks nothing (a complete
 *    PUT then works and is served) and leaves no temporary file; keys are `<namespace>/<hash>` (FC-12).
 *  - FC-19 a failed task's result is never served as a success: `a:lint` (warns, exits 1) runs again on the
 *    next run with unchanged inputs, distributed and with the coordinator as a plain remote cache (every Nx).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { cleanupAll } from '../support/processes';
import { copyWorkspace } from '../support/copy';
import { e2eNxVersions, handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import {
  fleetCli,
  fleetEnv,
  fleetWorkspaces,
  newRunId,
  nx,
  startCoordinator,
  tasksRunBy,
  waitForAgents,
  type Coordinator,
} from '../fleet/cluster';
import {
  customProjects,
  distributedRun,
  linesMatching,
  logFlags,
  startAgentWithEnv,
  startFaultProxy,
  storedArtifacts,
  within,
  type FaultProxy,
} from './field-support';

jest.setTimeout(6 * 60_000);

const PROJECTS: Record<string, ProjectSpec> = {
  a: {
    targets: {
      build: { command: 'sh packages/a/build.sh', outputs: ['{workspaceRoot}/dist/a'] },
      lint: { command: 'sh packages/a/lint.sh' },
    },
    files: {
      'build.sh': ['set -e', 'mkdir -p dist/a', 'echo data-of-a > dist/a/data.txt', 'echo built-a', ''].join('\n'),
      'lint.sh': [
        'mkdir -p .markers',
        'echo ran >> ".markers/lint-ran-${FLEET_MARKER_ID:-local}"',
        'echo "WARN marker-lint: no-unused-vars in packages/a/index.js"',
        'exit 1',
        '',
      ].join('\n'),
    },
  },
};

/** A file of a's that makes a:build's hash new (the coordinator must not have it yet). */
const salted = (dir: string): void => writeFileSync(join(dir, 'packages/a/salt.txt'), randomBytes(8).toString('hex'));

const cachePut = /^PUT \/v1\/cache\/([A-Za-z0-9_-]+)$/;
const putsOf = (proxy: FaultProxy): Array<{ hash: string; status: number | null; fault: string | null }> =>
  proxy.seen.flatMap((r) => {
    const m = cachePut.exec(`${r.method} ${r.path.split('?')[0]}`);
    return m ? [{ hash: m[1], status: r.status, fault: r.fault }] : [];
  });

function markerCount(dir: string): number {
  const markers = join(dir, '.markers');
  if (!existsSync(markers)) return 0;
  return readdirSync(markers).reduce((n, f) => n + readFileSync(join(markers, f), 'utf8').split('\n').filter(Boolean).length, 0);
}

let coordinator: Coordinator;
beforeAll(async () => {
  coordinator = await startCoordinator();
});
afterAll(() => cleanupAll());

describe.each(e2eNxVersions())('cache integrity field cases, Nx %s', (version) => {
  let template: string;
  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
  });

  it('FC-07: one 502 on an agent’s cache PUT is retried and the run stays green, a:build restored on main', async () => {
    let failed = 0;
    const proxy = await startFaultProxy(coordinator.url, (req) =>
      req.method === 'PUT' && req.path.startsWith('/v1/cache/') && failed++ === 0 ? { kind: 'status', status: 502 } : null,
    );
    try {
      const runId = newRunId(`fc07-${version}`);
      const ws = await fleetWorkspaces(template, coordinator, 1, customProjects(PROJECTS, salted));
      const agent = startAgentWithEnv(ws.agents[0], coordinator, runId, 'agent-1', ['--parallel', '1'], { FLEET_URL: proxy.url });
      const env = fleetEnv(ws.main, coordinator, { runId });
      expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
      await waitForAgents(coordinator, runId, 1);
      const main = await nx(ws.main, env, ['run', 'a:build', ...logFlags(version)]);
      const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
      const exit = await within(agent.exited, 30_000, 'the agent to exit');

      expect(main).toExitWith(0);
      expect(main.stdout).toMatch(/read the output from the cache instead of running the command for 1 out of 1 tasks/);
      expect(readFileSync(join(ws.main, 'dist/a/data.txt'), 'utf8')).toBe('data-of-a\n');
      expect(tasksRunBy(agent)).toEqual(['a:build']);
      const puts = putsOf(proxy);
      expect(puts[0]).toMatchObject({ status: 502, fault: 'status' });
      // the same artifact again, stored on a later attempt, a bounded number of times in all
      expect(puts.filter((p) => p.hash === puts[0].hash).map((p) => p.status)).toEqual([502, 200]);
      expect(stop).toExitWith(0);
      expect(exit).toExitWith(0);
    } finally {
      await proxy.close();
    }
  });

  it('FC-07: a cache that answers every PUT with 502: exit 0, one warning naming the hash, bounded attempts', () => everyPutFails(template, version));

  it('FC-19: a:lint warns and exits 1; the next distributed run with unchanged inputs runs it again and exits 1', async () => {
    const first = await distributedRun(coordinator, template, version, ['run', 'a:lint'], { agents: 1, prepare: customProjects(PROJECTS) });
    expect(first.main).toExitWith(1);
    expect(first.main.stdout).toContain('WARN marker-lint');
    expect(tasksRunBy(first.agents[0])).toEqual(['a:lint']);
    expect(first.stop).toExitWith(1);

    // the next pipeline: fresh checkouts of the same commit, so the same hash
    const main = await copyWorkspace(first.ws.main);
    const agentDir = await copyWorkspace(first.ws.main);
    const second = await distributedRun(coordinator, template, version, ['run', 'a:lint'], {
      agents: 1,
      workspaces: { main, agents: [agentDir] },
    });
    expect(second.main).toExitWith(1);
    expect(second.main.stdout).toContain('WARN marker-lint');
    expect(tasksRunBy(second.agents[0])).toEqual(['a:lint']);
    expect(markerCount(agentDir)).toBe(1); // it really ran there again
    expect(markerCount(main)).toBe(0); // and never on main
    expect(second.stop).toExitWith(1);
  });

  it('a blob corrupted on the coordinator\'s disk is reported there and is a miss: the task runs, exit 0', async () => {
    const { main } = await fleetWorkspaces(template, coordinator, 0, customProjects(PROJECTS, salted));
    const other = await copyWorkspace(main); // a second machine, nothing in its local cache
    const before = new Set(storedArtifacts(coordinator).keys());
    const first = await nx(main, fleetEnv(main, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } }), ['run', 'a:build', ...logFlags(version)]);
    expect(first).toExitWith(0);
    const added = [...storedArtifacts(coordinator).keys()].filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const blob = join(coordinator.dataDir, 'blobs', 'default', added[0]);
    const bytes = readFileSync(blob);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(blob, bytes);

    const second = await nx(other, fleetEnv(other, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } }), ['run', 'a:build', ...logFlags(version)]);
    expect(second).toExitWith(0);
    expect(second.stdout).toContain('built-a'); // it ran: not restored from the corrupt blob
    // the coordinator cuts the download before its last bytes and drops the blob: the relay's retry is a plain miss
    expect(readFileSync(join(other, 'dist/a/data.txt'), 'utf8')).toBe('data-of-a\n');
    await within(
      (async () => {
        for (let i = 0; i < 100 && !coordinator.process.output.includes('failed its sha256 check'); i++) await new Promise((r) => setTimeout(r, 50));
      })(),
      10_000,
      'the coordinator to report the corrupt blob',
    );
    expect(coordinator.process.output).toContain(`artifact default/${added[0]} failed its sha256 check; removed`);
  });

  it('FC-19: with the coordinator as remote cache, a failed a:lint runs again on the next run and exits 1 both times', async () => {
    const { main } = await fleetWorkspaces(template, coordinator, 0, customProjects(PROJECTS));
    // a second machine with the same commit (nothing in its local cache)
    const other = await copyWorkspace(main);
    const env = fleetEnv(main, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } });
    const one = await nx(main, env, ['run', 'a:lint', ...logFlags(version)]);
    expect(one).toExitWith(1);
    // the other machine, then the first one again
    const two = await nx(other, fleetEnv(other, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined } }), ['run', 'a:lint', ...logFlags(version)]);
    expect(two).toExitWith(1);
    const three = await nx(main, env, ['run', 'a:lint', ...logFlags(version)]);
    expect(three).toExitWith(1);
    for (const r of [one, two, three]) expect(r.stdout).toContain('WARN marker-lint');
    expect(markerCount(main)).toBe(2);
    expect(markerCount(other)).toBe(1);
  });
});

/** FC-07, a coordinator behind a proxy that answers every cache PUT with 502; no run (a laptop, or CI without a run). */
async function everyPutFails(template: string, version: string): Promise<void> {
  const proxy = await startFaultProxy(coordinator.url, (req) =>
    req.method === 'PUT' && req.path.startsWith('/v1/cache/') ? { kind: 'status', status: 502 } : null,
  );
  try {
    const { main } = await fleetWorkspaces(template, coordinator, 0, customProjects(PROJECTS, salted));
    const env = fleetEnv(main, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined, FLEET_URL: proxy.url } });
    const result = await nx(main, env, ['run', 'a:build', ...logFlags(version)], 3 * 60_000);
    expect(result).toExitWith(0);
    expect(result.stdout).toContain('built-a');
    const puts = putsOf(proxy);
    expect(puts.length).toBeGreaterThanOrEqual(1);
    const hash = puts[0].hash;
    expect(puts.every((p) => p.hash === hash && p.status === 502)).toBe(true);
    expect(puts.length).toBeLessThanOrEqual(5);
    const warnings = linesMatching(result.output, new RegExp(hash));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/502/);
  } finally {
    await proxy.close();
  }
}


describe('FC-18: a PUT cut half-way', () => {
  // as Fleet's relay on the trusted main branch sends them (the writer declares the sha256)
  const auth = (body?: Buffer): Record<string, string> => ({
    authorization: `Bearer ${coordinator.token}`,
    'x-fleet-branch': 'main',
    ...(body === undefined ? {} : { 'x-fleet-sha256': createHash('sha256').update(body).digest('hex') }),
  });

  /** A raw PUT that declares `declared` bytes, sends `sent` of them and then drops the connection. */
  function truncatedPut(hash: string, declared: number, sent: number): Promise<void> {
    const { hostname, port } = new URL(coordinator.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PUT /v1/cache/${hash} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${coordinator.token}\r\n` +
            `X-Fleet-Branch: main\r\nX-Fleet-Sha256: ${'0'.repeat(64)}\r\n` +
            `Content-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
        );
        socket.write(randomBytes(sent), () => {
          socket.destroy();
          resolve();
        });
      });
      socket.on('error', reject);
    });
  }

  const tmpFiles = (): string[] => {
    const dir = join(coordinator.dataDir, 'blobs', '.tmp');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < timeoutMs / 50 && Date.now() < deadline; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not true within ${timeoutMs} ms: ${what}`);
  }

  it('stores nothing, the next GET is a 404, a complete PUT then works and is served; keys are <namespace>/<hash> (FC-12)', async () => {
    const hash = createHash('sha256').update(randomBytes(8)).digest('hex').slice(0, 40);
    const neighbour = `${hash.slice(0, 39)}x`;
    const neighbourBody = Buffer.from('a neighbour that must stay');
    const putNeighbour = await fetch(`${coordinator.url}/v1/cache/${neighbour}`, { method: 'PUT', headers: auth(neighbourBody), body: neighbourBody });
    expect(putNeighbour.status).toBe(200);

    await truncatedPut(hash, 1_000_000, 400_000);
    // the coordinator notices the dropped connection and removes its temporary file
    await until('no temporary upload left', () => tmpFiles().length === 0);
    const miss = await fetch(`${coordinator.url}/v1/cache/${hash}`, { headers: auth() });
    await miss.arrayBuffer();
    expect(miss.status).toBe(404);

    // until the coordinator has seen the connection drop, the key is "being uploaded" (503 busy, retry); then it is free
    const body = randomBytes(1_000_000);
    const statuses: number[] = [];
    for (let i = 0; i < 100 && statuses.at(-1) !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const put = await fetch(`${coordinator.url}/v1/cache/${hash}`, { method: 'PUT', headers: auth(body), body });
      await put.arrayBuffer();
      statuses.push(put.status);
      if (put.status !== 503) break;
    }
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.every((st) => st === 503 || st === 200)).toBe(true);
    const hit = await fetch(`${coordinator.url}/v1/cache/${hash}`, { headers: auth() });
    expect(hit.status).toBe(200);
    expect(Buffer.from(await hit.arrayBuffer()).equals(body)).toBe(true);
    // a second complete upload replaces nothing: artifacts are immutable
    const other10 = randomBytes(10);
    const again = await fetch(`${coordinator.url}/v1/cache/${hash}`, { method: 'PUT', headers: auth(other10), body: other10 });
    await again.arrayBuffer();
    expect(again.status).toBe(409);
    const still = await fetch(`${coordinator.url}/v1/cache/${hash}`, { headers: auth() });
    expect(Buffer.from(await still.arrayBuffer()).equals(body)).toBe(true);
    const other = await fetch(`${coordinator.url}/v1/cache/${neighbour}`, { headers: auth() });
    expect(Buffer.from(await other.arrayBuffer()).equals(neighbourBody)).toBe(true);
    // FC-12: on disk (and so in the state's key) the artifact is <namespace>/<hash>, POSIX
    expect(existsSync(join(coordinator.dataDir, 'blobs', 'default', hash))).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });
});
