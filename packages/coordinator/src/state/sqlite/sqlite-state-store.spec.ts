import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NewRun } from '../state-store';
import { openDatabase } from './schema';
import { SqliteStateStore } from './sqlite-state-store';

const T0 = 1_700_000_000_000;

const newRun = (runId: string): NewRun => ({
  runId,
  expectedAgents: 1,
  stopAgentsOnFailure: false,
  branch: null,
  cacheNamespace: 'default',
  retries: 0,
  stopAgentsAfter: [],
  mainTimeoutMs: 30_000,
  runTimeoutMs: 3_600_000,
  taskTimeoutMs: 3_600_000,
});

describe('SqliteStateStore group commit', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-store-'));
    file = join(dir, 'state.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const storedRuns = (): string[] => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare('SELECT run_id FROM runs ORDER BY run_id').all() as { run_id: string }[]).map((r) => r.run_id);
    } finally {
      db.close();
    }
  };

  it('answers calls made together in the order asked, each seeing the ones before it, all committed', async () => {
    const store = new SqliteStateStore(file);
    try {
      const [created, joined, seen] = await Promise.all([
        store.createRun(newRun('r1'), T0),
        store.joinRun('r1', 'agent-1', 2, T0 + 1),
        store.getRun('r1'),
        store.createRun(newRun('r2'), T0 + 2),
      ]);
      expect(created.runId).toBe('r1');
      expect(joined?.agents.map((a) => a.name)).toEqual(['agent-1']);
      expect(seen?.agents.map((a) => a.name)).toEqual(['agent-1']);
    } finally {
      await store.close();
    }
    expect(storedRuns()).toEqual(['r1', 'r2']);
  });

  it('a call that throws rejects alone: the others of its batch are kept and answered', async () => {
    // a row no coordinator writes: reading it throws ("corrupt state")
    const db = openDatabase(file);
    db.prepare("INSERT INTO runs (run_id, status, created_at, expected_agents, stop_agents_on_failure) VALUES ('bad', 'weird', ?, 1, 0)").run(T0);
    db.close();
    const store = new SqliteStateStore(file);
    try {
      const results = await Promise.allSettled([store.createRun(newRun('r1'), T0), store.getRun('bad'), store.createRun(newRun('r2'), T0)]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/corrupt state: unknown run status weird/);
    } finally {
      await store.close();
    }
    expect(storedRuns()).toEqual(['bad', 'r1', 'r2']);
  });

  it('close answers what was asked before it, then closes', async () => {
    const store = new SqliteStateStore(file);
    const pending = store.createRun(newRun('r1'), T0);
    await store.close();
    await expect(pending).resolves.toMatchObject({ runId: 'r1' });
    expect(storedRuns()).toEqual(['r1']);
    await expect(store.getRun('r1')).rejects.toThrow(/closed|not open/i);
  });
});
