import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireClientConfig, resolveClientConfig } from './config';

describe('resolveClientConfig', () => {
  const root = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  writeFileSync(
    join(root, 'nx.json'),
    JSON.stringify({ tasksRunnerOptions: { default: { runner: 'nx-fleet', options: { url: 'http://from-nx-json:4646/' } } } }),
  );

  it('takes --url, then FLEET_URL, then nx.json, and the token from FLEET_TOKEN only', () => {
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: 'http://env:1' }, { url: 'http://flag:1', workspaceRoot: root })).toEqual({
      url: 'http://flag:1',
      token: 't',
    });
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: 'http://env:1' }, { workspaceRoot: root })?.url).toBe('http://env:1');
    expect(resolveClientConfig({ FLEET_TOKEN: 't' }, { workspaceRoot: root })?.url).toBe('http://from-nx-json:4646');
  });

  it('treats an empty or blank FLEET_URL / --url as unset (an unset CI variable arrives as ""), so nx.json still applies', () => {
    // GitHub passes an unset repository variable `${{ vars.FLEET_URL }}` to the step as FLEET_URL=""
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: '' }, { workspaceRoot: root })?.url).toBe('http://from-nx-json:4646');
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: '  ' }, { workspaceRoot: root })?.url).toBe('http://from-nx-json:4646');
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: 'http://env:1' }, { url: '', workspaceRoot: root })?.url).toBe('http://env:1');
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: '' }, { nxJsonOptions: { url: 'http://opts:1' } })?.url).toBe('http://opts:1');
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: '' })).toBeNull();
    // a token that is empty (a missing CI secret) is not set, whatever the URL's source
    expect(() => resolveClientConfig({ FLEET_TOKEN: '', FLEET_URL: '' }, { workspaceRoot: root })).toThrow(/FLEET_TOKEN is not set/);
    expect(() => resolveClientConfig({ FLEET_TOKEN: ' ' }, { workspaceRoot: root })).toThrow(/FLEET_TOKEN is not set/);
  });

  it('is null when nothing is configured, and says what is missing when asked to require it', () => {
    expect(resolveClientConfig({}, {})).toBeNull();
    expect(() => requireClientConfig({}, {})).toThrow(/pass --url, set FLEET_URL, or run `nx g nx-fleet:init/);
  });

  it('rejects a malformed URL and a missing token with a message naming the source', () => {
    expect(() => resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: 'not-a-url' })).toThrow(/from FLEET_URL is not a URL: "not-a-url"/);
    expect(() => resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: 'http://host :1' })).toThrow(/from FLEET_URL has a space in it/);
    expect(resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: ' http://host:1/ ' })?.url).toBe('http://host:1');
    expect(() => resolveClientConfig({ FLEET_TOKEN: 't' }, { url: 'ftp://x' })).toThrow(/--url must start with http/);
    expect(() => resolveClientConfig({}, { url: 'http://x:1' })).toThrow(/FLEET_TOKEN is not set/);
  });

  it('refuses a URL with a user name or password, without repeating them', () => {
    for (const url of ['http://user:hunter2pass@fleet.internal:4646/x', 'https://hunter2pass@fleet.internal']) {
      let message = '';
      try {
        resolveClientConfig({ FLEET_TOKEN: 't', FLEET_URL: url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/from FLEET_URL has a user name or password in it: give it without them \(https?:\/\/fleet\.internal(:4646\/x)?\); Fleet authenticates with FLEET_TOKEN/);
      expect(message).not.toContain('hunter2pass');
    }
  });

  it('resolves the branch of cache requests: the run\'s (sources.branch) first, else from the CI variables', () => {
    const env = { FLEET_TOKEN: 't', FLEET_URL: 'http://env:1' };
    expect(resolveClientConfig({ ...env, GITHUB_REF_NAME: 'main' })?.branch).toBe('main');
    expect(resolveClientConfig({ ...env, GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/3/merge', GITHUB_HEAD_REF: 'main' })?.branch).toBe('pull/3');
    expect(resolveClientConfig({ ...env, GITHUB_REF_NAME: 'feature' }, { branch: 'main' })?.branch).toBe('main');
    expect(resolveClientConfig(env)?.branch).toBeUndefined();
  });

  it('reads FLEET_ENCRYPTION_KEY; a set but unusable or empty key is an error that never shows it', () => {
    const env = { FLEET_TOKEN: 't', FLEET_URL: 'http://env:1' };
    expect(resolveClientConfig(env)?.encryptionKey).toBeUndefined();
    expect(resolveClientConfig({ ...env, FLEET_ENCRYPTION_KEY: 'ab'.repeat(32) })?.encryptionKey).toBeDefined();
    expect(() => resolveClientConfig({ ...env, FLEET_ENCRYPTION_KEY: 'hunter2-secret' })).toThrow(/FLEET_ENCRYPTION_KEY is not a usable key: .*64 hex digits or as base64/);
    expect(() => resolveClientConfig({ ...env, FLEET_ENCRYPTION_KEY: 'hunter2-secret' })).not.toThrow(/hunter2/);
    expect(() => resolveClientConfig({ ...env, FLEET_ENCRYPTION_KEY: '' })).toThrow(/FLEET_ENCRYPTION_KEY is set but empty \(is the CI secret missing\?\)/);
  });
});
