import type { RunView } from '@fleet/protocol';
import { runBranch } from './agent';
import { agentNxEnv } from './nx-env';

describe('agentNxEnv', () => {
  const input = {
    base: { PATH: '/bin', FLEET_REPLAY_DIR: '/x', NX_NATIVE_FILE_CACHE_DIRECTORY: '/shared/native' },
    workspaceRoot: '/ws',
    cacheUrl: 'http://127.0.0.1:1/lease-1',
    secret: 's3cret',
    agentName: 'agent-1',
  };

  it('gives each slot its own Nx database, local cache and native-binding copy', () => {
    const zero = agentNxEnv({ ...input, slot: 0 });
    const one = agentNxEnv({ ...input, slot: 1 });
    for (const key of ['NX_WORKSPACE_DATA_DIRECTORY', 'NX_CACHE_DIRECTORY', 'NX_NATIVE_FILE_CACHE_DIRECTORY']) {
      expect(zero[key]).toMatch(/^\/ws\/\.fleet\/nx\/slot-0\//);
      expect(one[key]).toMatch(/^\/ws\/\.fleet\/nx\/slot-1\//);
    }
    // an inherited shared native cache is not used: two cold Nx 19.8 starts on it can die of SIGBUS
    expect(zero.NX_NATIVE_FILE_CACHE_DIRECTORY).not.toBe('/shared/native');
  });

  it('points Nx at the relay, stores failures and never inherits main-only settings', () => {
    const env = agentNxEnv({ ...input, slot: 0 });
    expect(env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER).toBe(input.cacheUrl);
    expect(env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN).toBe('s3cret');
    expect(env.NX_CACHE_FAILURES).toBe('true');
    expect(env.FLEET_DISTRIBUTE).toBe('false');
    expect(env.FLEET_REPLAY_DIR).toBeUndefined();
    expect(env.PATH).toBe('/bin');
  });

  it("loads Nx's plugins in the task's own process unless the agent's environment chose otherwise", () => {
    expect(agentNxEnv({ ...input, slot: 0 }).NX_ISOLATE_PLUGINS).toBe('false');
    expect(agentNxEnv({ ...input, base: { ...input.base, NX_ISOLATE_PLUGINS: 'true' }, slot: 0 }).NX_ISOLATE_PLUGINS).toBe('true');
  });

  it("passes the run's branch to the task as FLEET_BRANCH, and leaves the agent's own when the run has none", () => {
    expect(agentNxEnv({ ...input, slot: 0, branch: 'main' }).FLEET_BRANCH).toBe('main');
    expect(agentNxEnv({ ...input, base: { ...input.base, FLEET_BRANCH: 'own' }, slot: 0, branch: 'main' }).FLEET_BRANCH).toBe('main');
    expect(agentNxEnv({ ...input, slot: 0 }).FLEET_BRANCH).toBeUndefined();
    expect(agentNxEnv({ ...input, base: { ...input.base, FLEET_BRANCH: 'own' }, slot: 0 }).FLEET_BRANCH).toBe('own');
  });
});

describe('runBranch', () => {
  const run = { runId: 'r1' } as unknown as RunView;
  it("is the run's branch when the coordinator tells it, cleaned; else undefined", () => {
    expect(runBranch({ ...run, branch: 'main' } as RunView)).toBe('main');
    expect(runBranch({ ...run, branch: 'pull/\u00073' } as RunView)).toBe('pull/3');
    expect(runBranch({ ...run, branch: null } as unknown as RunView)).toBeUndefined();
    expect(runBranch(run)).toBeUndefined();
  });
});
