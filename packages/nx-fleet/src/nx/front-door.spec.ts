import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertFrontDoor, fleetWiring } from './front-door';

function workspace(nxVersion: string, nxJson: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'fleet-front-door-'));
  mkdirSync(join(root, 'node_modules/nx'), { recursive: true });
  writeFileSync(join(root, 'node_modules/nx/package.json'), JSON.stringify({ name: 'nx', version: nxVersion }));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ws', devDependencies: { nx: nxVersion } }));
  writeFileSync(join(root, 'nx.json'), JSON.stringify(nxJson));
  return root;
}

const runnerEntry = { tasksRunnerOptions: { default: { runner: 'nx-fleet', options: { url: 'http://x:1' } } } };
const pluginEntry = { plugins: [{ plugin: 'nx-fleet', options: { url: 'http://x:1' } }] };

describe('assertFrontDoor', () => {
  it('accepts the runner on Nx 19.8–20 and the plugin on Nx 21–24', () => {
    expect(assertFrontDoor(workspace('19.8.14', runnerEntry))).toEqual({ version: '19.8.14', kind: 'runner' });
    expect(assertFrontDoor(workspace('20.8.4', runnerEntry))).toEqual({ version: '20.8.4', kind: 'runner' });
    for (const v of ['21.6.11', '22.7.12', '23.3.2', '24.0.6']) expect(assertFrontDoor(workspace(v, pluginEntry)).kind).toBe('plugin');
  });

  it('tells a Nx 21+ workspace that still has the runner entry to run init', () => {
    expect(() => assertFrontDoor(workspace('21.6.11', runnerEntry))).toThrow(
      /Nx 21\.6\.11 ignores the "nx-fleet" tasks runner .* run `nx g nx-fleet:init` to switch it to the nx-fleet plugin/,
    );
  });

  it('refuses Nx 18 naming the supported range, and a workspace without Fleet configured', () => {
    expect(() => assertFrontDoor(workspace('18.3.5', runnerEntry))).toThrow(/Nx 18\.3\.5 is too old\. Fleet supports Nx 19\.8 to 24\.x/);
    expect(() => assertFrontDoor(workspace('20.8.4', {}))).toThrow(/run `nx g nx-fleet:init --url=<coordinator>`/);
  });

  it('reads both ways of listing a plugin', () => {
    expect(fleetWiring({ plugins: ['nx-fleet'] })).toEqual({ runner: false, plugin: true });
    expect(fleetWiring(runnerEntry)).toEqual({ runner: true, plugin: false });
  });
});
