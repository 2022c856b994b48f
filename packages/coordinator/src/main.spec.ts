import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './main';
import { call } from './testing/http-call';

describe('startServer', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'fleet-server-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('listens on port 0, answers /healthz, and keeps runs across a restart', async () => {
    const headers = { authorization: 'Bearer s3cret', 'content-type': 'application/json' };
    const first = await startServer({ port: 0, dataDir, token: 's3cret' });
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await call(first.url, { method: 'GET', path: '/healthz' });
      expect(health.json()).toMatchObject({ ok: true, protocolVersion: 1 });
      const created = await call(first.url, { method: 'POST', path: '/v1/runs', headers, body: '{"runId":"durable-1"}' });
      expect(created.statusCode).toBe(200);
    } finally {
      await first.close();
    }
    const second = await startServer({ port: 0, dataDir, token: 's3cret' });
    try {
      const run = await call(second.url, { method: 'GET', path: '/v1/runs/durable-1', headers });
      expect(run.statusCode).toBe(200);
      expect(run.json()).toMatchObject({ runId: 'durable-1', status: 'open' });
    } finally {
      await second.close();
    }
  });

  it('rejects a bad config before listening', async () => {
    await expect(startServer({ token: 't', dataDir, bogus: 1 } as never)).rejects.toThrow(/unknown config keys/);
  });
});
