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
      leaseRetries: 2,
      mainSilenceMs: 30_000,
      runTimeoutMs: 3 * 3600_000,
      taskTimeoutMs: 3600_000,
      sweepIntervalMs: 1000,
    });
    expect(config).not.toHaveProperty('maxAttempts');
  });

  it('takes the older maxAttempts as leaseRetries + 1, never both', () => {
    expect(parseServerConfig({ token: 't', maxAttempts: 2 }).leaseRetries).toBe(1);
    expect(parseServerConfig({ token: 't', leaseRetries: 0 }).leaseRetries).toBe(0);
    expect(() => parseServerConfig({ token: 't', maxAttempts: 2, leaseRetries: 1 })).toThrow(/give only leaseRetries/);
    expect(() => parseServerConfig({ token: 't', maxAttempts: 0 })).toThrow(/config.maxAttempts/);
  });

  it('checks the time-outs against the ranges a run may ask for', () => {
    expect(parseServerConfig({ token: 't', mainSilenceMs: 60_000 }).mainSilenceMs).toBe(60_000);
    expect(() => parseServerConfig({ token: 't', mainSilenceMs: 9_999 })).toThrow(/config.mainSilenceMs must be an integer from 10000/);
    expect(() => parseServerConfig({ token: 't', runTimeoutMs: 59_999 })).toThrow(/config.runTimeoutMs/);
    expect(() => parseServerConfig({ token: 't', taskTimeoutMs: 8 * 24 * 3600_000 })).toThrow(/config.taskTimeoutMs/);
    expect(() => parseServerConfig({ token: 't', sweepIntervalMs: -1 })).toThrow(/config.sweepIntervalMs/);
  });

  it('rejects unknown keys, a missing token and bad values', () => {
    expect(() => parseServerConfig({ token: 't', prot: 1 })).toThrow(/unknown config keys: prot/);
    expect(() => parseServerConfig({})).toThrow(/config.token/);
    expect(() => parseServerConfig({ token: 't', port: 70000 })).toThrow(/config.port/);
    expect(() => parseServerConfig({ token: 't', reporter: {} })).toThrow(/config.reporter/);
  });
});
