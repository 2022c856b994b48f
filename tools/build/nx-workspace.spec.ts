import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * This repository is itself an Nx workspace (nx.json at the root, the packages inferred from npm
 * workspaces): `nx run-many -t build` builds the packages in dependency order with Nx's cache.
 */
describe('the repository as an Nx workspace', () => {
  const root = path.resolve(__dirname, '../..');
  let scratch: string;
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-nx-repo-'));
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  function nx(args: string[]): string {
    return execFileSync(process.execPath, [path.join(root, 'node_modules/nx/bin/nx.js'), ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        NX_DAEMON: 'false',
        NX_NO_CLOUD: 'true',
        NX_TUI: 'false',
        NX_CACHE_DIRECTORY: path.join(scratch, 'cache'),
        NX_WORKSPACE_DATA_DIRECTORY: path.join(scratch, 'workspace-data'),
      },
    });
  }

  it('has the four packages as projects, each with a cached build after its dependencies', () => {
    const file = path.join(scratch, 'graph.json');
    nx(['graph', `--file=${file}`]);
    const { graph } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      graph: { nodes: Record<string, { data: { targets: Record<string, { cache?: boolean; dependsOn?: string[]; options?: { script?: string } }> } }>; dependencies: Record<string, { target: string }[]> };
    };
    expect(Object.keys(graph.nodes).sort()).toEqual(['@fleet/coordinator', '@fleet/core', '@fleet/protocol', 'nx-fleet']);
    const deps = (name: string): string[] => [...new Set(graph.dependencies[name].map((d) => d.target))].sort();
    expect(deps('nx-fleet')).toEqual(['@fleet/coordinator', '@fleet/protocol']);
    expect(deps('@fleet/coordinator')).toEqual(['@fleet/core', '@fleet/protocol']);
    expect(deps('@fleet/core')).toEqual(['@fleet/protocol']);
    expect(deps('@fleet/protocol')).toEqual([]);
    for (const node of Object.values(graph.nodes)) {
      expect(node.data.targets.build).toMatchObject({ cache: true, dependsOn: ['^build'] });
    }
  });
});
