import { parseServerConfig } from './config';

describe('parseServerConfig', () => {
  it('fills defaults', () => {
    const config = parseServerConfig({ token: 't' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4646,
      dataDir: '.fleet',
      leaseMs: 10_000,
      maxArtifactBytes: 2 * 1024 ** 3,
      maxAttempts: 3,
    });
  });

  it('rejects unknown keys, a missing token and bad values', () => {
    expect(() => parseServerConfig({ token: 't', prot: 1 })).toThrow(/unknown config keys: prot/);
    expect(() => parseServerConfig({})).toThrow(/config.token/);
    expect(() => parseServerConfig({ token: 't', port: 70000 })).toThrow(/config.port/);
    expect(() => parseServerConfig({ token: 't', reporter: {} })).toThrow(/config.reporter/);
  });
});
