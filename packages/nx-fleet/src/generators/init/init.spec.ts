import { logger, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initGenerator } from './init';
import { verifyCoordinator } from './verify-url';

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/** A port nothing listens on: bind port 0, note it, close it. */
async function unusedPort(): Promise<number> {
  const { server, url } = await listen(() => undefined);
  await close(server);
  return Number(new URL(url).port);
}

const NX19_JSON = {
  $schema: './node_modules/nx/schemas/nx-schema.json',
  affected: { defaultBase: 'main' },
  tasksRunnerOptions: {
    default: { runner: 'nx/tasks-runners/default', options: { cacheableOperations: ['build', 'lint', 'test'], parallel: 3 } },
  },
  namedInputs: { default: ['{projectRoot}/**/*', 'sharedGlobals'], sharedGlobals: [], production: ['default'] },
  targetDefaults: { build: { dependsOn: ['^build'], inputs: ['production', '^production'] } },
};
const NX20_JSON = {
  $schema: './node_modules/nx/schemas/nx-schema.json',
  defaultBase: 'main',
  namedInputs: { default: ['{projectRoot}/**/*', 'sharedGlobals'], sharedGlobals: [] },
  plugins: [{ plugin: '@nx/js/typescript', options: { typecheck: { targetName: 'typecheck' } } }],
  targetDefaults: { test: { cache: true, dependsOn: ['^build'] } },
};

function workspace(nxVersion: string, nxJson: object = NX20_JSON): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('nx.json', JSON.stringify(nxJson, null, 2));
  tree.write('package.json', JSON.stringify({ name: 'demo', devDependencies: { nx: nxVersion } }, null, 2));
  tree.write('.gitignore', 'node_modules\ndist');
  return tree;
}
const snapshot = (tree: Tree): Record<string, string | undefined> =>
  Object.fromEntries(tree.listChanges().map((c) => [c.path, c.content?.toString()]));

let coordinator: { server: Server; url: string };
let hits = 0;
beforeAll(async () => {
  coordinator = await listen((req, res) => {
    hits++;
    if (req.url === '/healthz') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, version: 'test' }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
});
afterAll(() => close(coordinator.server));
beforeEach(() => {
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
  jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());
const said = (): string => [...(logger.info as jest.Mock).mock.calls, ...(logger.warn as jest.Mock).mock.calls].flat().join('\n');

describe('init on Nx 19 and 20', () => {
  it('Nx 19.8: sets the Fleet runner and keeps the existing runner options and the rest of nx.json', async () => {
    const tree = workspace('19.8.14', NX19_JSON);
    await initGenerator(tree, { url: `${coordinator.url}/` });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.tasksRunnerOptions.default).toEqual({
      runner: 'nx-fleet',
      options: { cacheableOperations: ['build', 'lint', 'test'], parallel: 3, url: coordinator.url },
    });
    const { tasksRunnerOptions: _a, ...rest } = nxJson;
    const { tasksRunnerOptions: _b, ...expected } = NX19_JSON;
    expect(rest).toEqual(expected);
  });

  it('Nx 20: adds tasksRunnerOptions and keeps targetDefaults, namedInputs and plugins', async () => {
    const tree = workspace('20.8.4');
    await initGenerator(tree, { url: coordinator.url });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.tasksRunnerOptions).toEqual({ default: { runner: 'nx-fleet', options: { url: coordinator.url } } });
    const { tasksRunnerOptions: _a, ...rest } = nxJson;
    expect(rest).toEqual(NX20_JSON);
    expect(said()).toContain('reachable');
  });

  it('keeps options of an existing nx-fleet runner and updates the URL', async () => {
    const tree = workspace('^20.1.0', {
      ...NX20_JSON,
      tasksRunnerOptions: { default: { runner: 'nx-fleet', options: { url: 'http://old.example', parallel: 5 } } },
    });
    await initGenerator(tree, { url: coordinator.url });
    expect(readJson(tree, 'nx.json').tasksRunnerOptions.default.options).toEqual({ url: coordinator.url, parallel: 5 });
  });

  it('is idempotent: a second run changes nothing', async () => {
    const tree = workspace('20.8.4');
    await initGenerator(tree, { url: coordinator.url });
    const first = snapshot(tree);
    await initGenerator(tree, { url: coordinator.url });
    expect(snapshot(tree)).toEqual(first);
    expect(said()).toContain('nothing changed');
  });

  it('adds .fleet/ to .gitignore once, and leaves an existing entry alone', async () => {
    const tree = workspace('20.8.4');
    await initGenerator(tree, { url: coordinator.url });
    await initGenerator(tree, { url: coordinator.url });
    const gitignore = tree.read('.gitignore', 'utf-8') ?? '';
    expect(gitignore.startsWith('node_modules\ndist\n')).toBe(true);
    expect(gitignore.split('\n').filter((l) => l === '.fleet/')).toHaveLength(1);
    const other = workspace('20.8.4');
    other.write('.gitignore', '/.fleet\n');
    await initGenerator(other, { url: coordinator.url, verify: false });
    expect(other.read('.gitignore', 'utf-8')).toBe('/.fleet\n');
    const fresh = workspace('20.8.4');
    fresh.delete('.gitignore');
    await initGenerator(fresh, { url: coordinator.url, verify: false });
    expect(fresh.read('.gitignore', 'utf-8')).toBe('# Fleet (distributed task execution)\n.fleet/\n');
  });

  it('never writes a token, and says which secret to set', async () => {
    process.env['FLEET_TOKEN'] = 'fleet-secret-value-123';
    try {
      const tree = workspace('20.8.4');
      await initGenerator(tree, { url: coordinator.url });
      for (const change of tree.listChanges()) {
        expect(change.content?.toString() ?? '').not.toContain('fleet-secret-value-123');
      }
      expect(JSON.stringify(readJson(tree, 'nx.json'))).not.toMatch(/token/i);
      expect(said()).toContain('FLEET_TOKEN');
      expect(said()).not.toContain('fleet-secret-value-123');
    } finally {
      delete process.env['FLEET_TOKEN'];
    }
  });
});

describe('init URL verification', () => {
  it('GETs <url>/healthz on the coordinator', async () => {
    const before = hits;
    await verifyCoordinator(coordinator.url);
    expect(hits).toBe(before + 1);
  });

  it('reports an unreachable coordinator, suggests --no-verify, and writes nothing', async () => {
    const tree = workspace('20.8.4');
    const before = snapshot(tree);
    const url = `http://127.0.0.1:${await unusedPort()}`;
    await expect(initGenerator(tree, { url })).rejects.toThrow(/Cannot reach the Fleet coordinator.*ECONNREFUSED.*--no-verify/s);
    expect(snapshot(tree)).toEqual(before);
  });

  it('--no-verify configures an unreachable coordinator offline', async () => {
    const tree = workspace('20.8.4');
    const url = `http://127.0.0.1:${await unusedPort()}`;
    await initGenerator(tree, { url, verify: false });
    expect(readJson(tree, 'nx.json').tasksRunnerOptions.default.options.url).toBe(url);
    expect(said()).toContain('--no-verify');
  });

  it('rejects a server that is not a coordinator', async () => {
    const other = await listen((_req, res) => res.end('<html>hello</html>'));
    const notOk = await listen((_req, res) => res.end(JSON.stringify({ ok: false })));
    try {
      await expect(initGenerator(workspace('20.8.4'), { url: other.url })).rejects.toThrow(/without JSON.*Fleet coordinator/);
      await expect(initGenerator(workspace('20.8.4'), { url: notOk.url })).rejects.toThrow(/not \{ "ok": true \}/);
    } finally {
      await Promise.all([close(other.server), close(notOk.server)]);
    }
  });

  it('gives up on a coordinator that does not answer in time', async () => {
    const silent = await listen(() => undefined);
    try {
      await expect(verifyCoordinator(silent.url, 200)).rejects.toThrow(/no answer within 0.2 s/);
    } finally {
      silent.server.closeAllConnections();
      await close(silent.server);
    }
  });

  it.each([
    ['not a url', /not a valid URL/],
    ['fleet.example.com', /not a valid URL/],
    ['ftp://fleet.example.com', /http:\/\/ or https:\/\//],
    ['https://user:secret@fleet.example.com', /must not contain credentials/],
    ['https://fleet.example.com/?token=x', /query or fragment/],
  ])('reports a malformed URL %j, even with --no-verify, and writes nothing', async (url, message) => {
    const tree = workspace('20.8.4');
    const before = snapshot(tree);
    await expect(initGenerator(tree, { url, verify: false })).rejects.toThrow(message);
    expect(snapshot(tree)).toEqual(before);
  });
});

describe('init on Nx 21–24 (the plugin front door)', () => {
  it.each(['21.6.11', '22.7.12', '23.3.2', '^24.0.0'])('Nx %s: lists nx-fleet in plugins with the url, keeping the other plugins', async (v) => {
    const tree = workspace(v);
    await initGenerator(tree, { url: coordinator.url });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.plugins).toEqual([...NX20_JSON.plugins, { plugin: 'nx-fleet', options: { url: coordinator.url } }]);
    expect(nxJson.tasksRunnerOptions).toBeUndefined();
    expect(nxJson.targetDefaults).toEqual(NX20_JSON.targetDefaults);
    const after = snapshot(tree);
    await initGenerator(tree, { url: coordinator.url });
    expect(snapshot(tree)).toEqual(after);
  });

  it('moves a runner entry left from Nx 19–20, which Nx 21+ ignores, to the plugin, keeping its options', async () => {
    const tree = workspace('21.6.11', {
      ...NX20_JSON,
      tasksRunnerOptions: { default: { runner: 'nx-fleet', options: { url: 'http://old:1', mainParallel: 4 } } },
    });
    await initGenerator(tree, { url: coordinator.url });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.tasksRunnerOptions).toBeUndefined();
    expect(nxJson.plugins).toContainEqual({ plugin: 'nx-fleet', options: { url: coordinator.url, mainParallel: 4 } });
    expect(said()).toMatch(/Moved the "nx-fleet" tasks runner entry/);
    expect(JSON.stringify(snapshot(tree))).not.toContain(process.env.FLEET_TOKEN ?? 'no-token-set');
  });
});

describe('init on unsupported Nx versions', () => {
  it.each(['18.3.0', '19.7.0'])('Nx %s: names the supported range', async (v) => {
    const tree = workspace(v, NX19_JSON);
    const before = snapshot(tree);
    await expect(initGenerator(tree, { url: coordinator.url, verify: false })).rejects.toThrow(/too old.*Nx 19\.8 to 24\.x/s);
    expect(snapshot(tree)).toEqual(before);
  });

  it('no Nx at all', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('package.json', '{}');
    await expect(initGenerator(tree, { url: coordinator.url })).rejects.toThrow(/Cannot find Nx/);
  });
});
