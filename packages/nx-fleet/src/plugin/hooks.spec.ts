import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunMarker, type RunMarker } from '../run-marker';
import { hookEnv, planPreTasks, postTasksExecution, preTasksExecution } from './hooks';

const marker: RunMarker = { runId: 'run-1', url: 'http://fleet.test:4646', createdAt: 1, stopAgentsOnFailure: true, branch: 'main' };
const URL_ONLY = { FLEET_URL: 'http://fleet.test:4646' };
const CONFIGURED = { FLEET_URL: 'http://fleet.test:4646', FLEET_TOKEN: 't0ken' };

function plan(nxVersion: string, env: NodeJS.ProcessEnv, runMarker: RunMarker | null = null, options?: { url?: string }) {
  const readMarker = jest.fn(() => runMarker);
  const debug = jest.fn();
  const run = () => planPreTasks({ nxVersion, env, options, readMarker, debug });
  return { run, readMarker, debug };
}

describe('planPreTasks', () => {
  it('does nothing on Nx 19.8–20: the tasks runner is the front door there', () => {
    for (const v of ['19.8.14', '20.8.4']) {
      const p = plan(v, CONFIGURED, marker);
      expect(p.run()).toEqual({ action: 'none' });
      expect(p.readMarker).not.toHaveBeenCalled();
    }
  });

  it('refuses an unsupported Nx, naming the supported range', () => {
    for (const v of ['18.2.0', '25.0.0']) {
      expect(plan(v, CONFIGURED).run).toThrow(expect.objectContaining({ code: 'unsupported_nx', message: expect.stringContaining('19.8 to 24.x') }));
    }
  });

  it('skips on an agent, before reading the run or the configuration', () => {
    // on an agent the tasks runner is wired to the agent's relay; a marker and a broken
    // configuration (URL without token) here would throw if the hook went on
    const p = plan('22.7.12', { ...URL_ONLY, FLEET_AGENT_CACHE_URL: 'http://127.0.0.1:9999' }, marker);
    expect(p.run()).toEqual({ action: 'none' });
    expect(p.readMarker).not.toHaveBeenCalled();
  });

  it('skips when distribution is switched off (the graph computation itself runs so)', () => {
    const p = plan('21.6.11', { ...URL_ONLY, FLEET_DISTRIBUTE: 'false' }, marker);
    expect(p.run()).toEqual({ action: 'none' });
    expect(p.readMarker).not.toHaveBeenCalled();
  });

  it('returns early with neither URL nor token, in a run or not', () => {
    expect(plan('22.7.12', {}).run()).toEqual({ action: 'none' });
    expect(plan('22.7.12', {}, marker).run()).toEqual({ action: 'none' });
  });

  it('outside a run, a URL without FLEET_TOKEN only turns the remote cache off', () => {
    const p = plan('23.3.2', URL_ONLY);
    expect(p.run()).toEqual({ action: 'none' });
    expect(p.debug).toHaveBeenCalledWith(expect.stringContaining('remote cache off: FLEET_TOKEN is not set'));
  });

  it('inside a run, a URL without FLEET_TOKEN is an error', () => {
    expect(plan('23.3.2', URL_ONLY, marker).run).toThrow(/FLEET_TOKEN is not set/);
  });

  it('outside a run, a configured coordinator is only the remote cache', () => {
    expect(plan('24.0.6', CONFIGURED).run()).toEqual({ action: 'cache', config: expect.objectContaining({ url: 'http://fleet.test:4646', token: 't0ken' }) });
    // the URL from the plugin's options in nx.json
    expect(plan('21.0.0', { FLEET_TOKEN: 't0ken' }, null, { url: 'http://from-nx-json:1' }).run()).toEqual({
      action: 'cache',
      config: expect.objectContaining({ url: 'http://from-nx-json:1' }),
    });
  });

  it('inside a run, distributes', () => {
    expect(plan('21.6.11', CONFIGURED, marker).run()).toEqual({ action: 'distribute', config: expect.objectContaining({ token: 't0ken' }), marker });
  });
});

describe('hookEnv', () => {
  const relay = { url: 'http://127.0.0.1:5555', secret: 's3cret' };

  it('outside a run sets only the cache settings', () => {
    expect(hookEnv(relay, null)).toEqual({
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: 'http://127.0.0.1:5555',
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 's3cret',
    });
  });

  it('inside a run also loads the replay preload into task processes', () => {
    const env = hookEnv(relay, '/ws/.fleet/relays/x1/replay');
    expect(env).toEqual({
      NODE_OPTIONS: expect.stringMatching(/--require ".*preload\.js"$/),
      FLEET_REPLAY_DIR: '/ws/.fleet/relays/x1/replay',
      NX_RUN_COMMANDS_DIRECTLY: 'false',
      FLEET_WARN_LOCAL_RERUN: 'true',
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: 'http://127.0.0.1:5555',
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 's3cret',
    });
  });
});

describe('preTasksExecution / postTasksExecution in a workspace', () => {
  const KEYS = ['FLEET_URL', 'FLEET_TOKEN', 'FLEET_AGENT_CACHE_URL', 'FLEET_DISTRIBUTE', 'FLEET_ENCRYPTION_KEY', 'FLEET_VERBOSE', 'NX_SELF_HOSTED_REMOTE_CACHE_SERVER', 'NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN', 'NODE_OPTIONS'];
  let saved: Record<string, string | undefined>;
  let root: string;

  function workspace(nxVersion: string): string {
    root = mkdtempSync(join(tmpdir(), 'fleet-hooks-'));
    mkdirSync(join(root, 'node_modules', 'nx'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'nx', 'package.json'), JSON.stringify({ name: 'nx', version: nxVersion }));
    writeFileSync(join(root, 'nx.json'), JSON.stringify({ plugins: ['nx-fleet'] }));
    return root;
  }
  const context = (ws: string) => ({ id: 'cmd-1', workspaceRoot: ws, argv: [process.execPath, join(ws, 'node_modules/nx/bin/nx.js'), 'run-many', '-t', 'build'] });
  const untouched = () => {
    expect(existsSync(join(root, '.fleet', 'relays'))).toBe(false);
    expect(existsSync(join(root, '.fleet', 'hooks'))).toBe(false);
    expect(process.env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER).toBeUndefined();
    expect(process.env.NODE_OPTIONS).toBeUndefined();
  };

  beforeEach(() => {
    saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
    for (const k of KEYS) delete process.env[k];
  });
  afterEach(() => {
    for (const k of KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('without a URL or token returns at once and starts nothing', async () => {
    const ws = workspace('22.7.12');
    await expect(preTasksExecution(undefined, context(ws))).resolves.toBeUndefined();
    untouched();
  });

  it('on an agent returns at once, even in a run with a broken configuration', async () => {
    const ws = workspace('21.6.11');
    writeRunMarker(ws, marker);
    Object.assign(process.env, URL_ONLY, { FLEET_AGENT_CACHE_URL: 'http://127.0.0.1:9999' });
    await expect(preTasksExecution(undefined, context(ws))).resolves.toBeUndefined();
    untouched();
  });

  it('in a run with a URL but no FLEET_TOKEN fails the command', async () => {
    const ws = workspace('21.6.11');
    writeRunMarker(ws, marker);
    Object.assign(process.env, URL_ONLY);
    await expect(preTasksExecution(undefined, context(ws))).rejects.toThrow(/FLEET_TOKEN is not set/);
    untouched();
  });

  it('reads the Nx version of the workspace', async () => {
    await expect(preTasksExecution(undefined, context(workspace('25.0.0')))).rejects.toThrow(/Nx 25\.0\.0 is newer/);
    rmSync(root, { recursive: true, force: true });
    Object.assign(process.env, CONFIGURED);
    writeRunMarker(workspace('20.8.4'), marker); // the runner's job on Nx 20, even in a run
    await expect(preTasksExecution(undefined, context(root))).resolves.toBeUndefined();
    untouched();
  });

  it('postTasksExecution without a hook state does nothing', async () => {
    const ws = workspace('22.7.12');
    await expect(postTasksExecution(undefined, { ...context(ws), taskResults: {} })).resolves.toBeUndefined();
    expect(existsSync(join(ws, '.fleet'))).toBe(false);
  });
});
