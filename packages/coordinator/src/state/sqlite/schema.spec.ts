import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DDL_V1, openDatabase, SCHEMA_VERSION } from './schema';
import { SqliteStateStore } from './sqlite-state-store';

const T0 = 1_700_000_000_000;

/** A data directory as a version-1 coordinator left it: an open run, a leased task, its lease. */
function writeVersion1(file: string): void {
  const db = new Database(file);
  db.exec(DDL_V1);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', '1')").run();
  db.prepare(
    "INSERT INTO runs (run_id, status, created_at, expected_agents, stop_agents_on_failure) VALUES ('old-run', 'open', ?, 2, 1)",
  ).run(T0);
  db.prepare(
    "INSERT INTO executions (execution_id, run_id, command, status, version, created_at, last_seen_at) VALUES ('x1', 'old-run', 'nx affected', 'running', 3, ?, ?)",
  ).run(T0, T0);
  db.prepare(
    `INSERT INTO tasks (exec_seq, task_id, ord, run_id, project, target, status, deps, priority, agent, attempts, lease_id, lease_expires_at)
     VALUES (1, 'a:build', 0, 'old-run', 'a', 'build', 'leased', '[]', 1, 'agent-1', 1, 'l2', ?)`,
  ).run(T0 + 10_000);
  db.prepare("INSERT INTO leases (lease_id, exec_seq, task_id, agent, created_at) VALUES ('l2', 1, 'a:build', 'agent-1', ?)").run(T0);
  db.prepare(
    "INSERT INTO results (hash, exec_seq, task_id, agent, duration_ms, recorded_at) VALUES ('h-old', 1, 'a:build', 'agent-1', 5, ?)",
  ).run(T0);
  db.close();
}

describe('SQLite schema migrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-schema-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a version-1 data directory: columns added with defaults, rows kept, version recorded', async () => {
    const file = join(dir, 'state.sqlite');
    writeVersion1(file);
    const store = new SqliteStateStore(file);
    try {
      expect(await store.getRun('old-run')).toMatchObject({
        runId: 'old-run',
        status: 'open',
        stopAgentsOnFailure: true,
        reason: null,
        retries: 0,
        stopAgentsAfter: [],
        mainTimeoutMs: 30_000,
        runTimeoutMs: 3 * 3600_000,
        taskTimeoutMs: 3600_000,
      });
      const view = await store.getExecution('x1', T0);
      expect(view?.tasks[0]).toMatchObject({ id: 'a:build', status: 'leased', attempts: 1, retried: 0 });
      // the old lease takes part in the new model: it expires as "lost" with the retry message
      expect(await store.expireLeases('old-run', T0 + 10_000, 0)).toEqual(['x1']);
      expect((await store.getExecution('x1', T0))?.tasks[0]).toMatchObject({
        status: 'failed',
        message: 'agent lost once (lease expired on agent-1; retry limit 0)',
      });
    } finally {
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(SCHEMA_VERSION) });
      expect(SCHEMA_VERSION).toBe(4);
      // v3: main's run heartbeat, null until it beats
      expect(db.prepare("SELECT main_heartbeat_at FROM runs WHERE run_id = 'old-run'").get()).toEqual({ main_heartbeat_at: null });
      // v4: earlier runs and results belong to the default workspace's shared namespace; no tokens yet
      expect(db.prepare("SELECT cache_namespace FROM runs WHERE run_id = 'old-run'").get()).toEqual({ cache_namespace: 'default' });
      expect(db.prepare('SELECT namespace, hash, agent FROM results').all()).toEqual([
        { namespace: 'default', hash: 'h-old', agent: 'agent-1' },
      ]);
      expect(db.prepare('SELECT COUNT(*) AS n FROM tokens').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('a new file gets the same schema as a migrated one; opening twice changes nothing', () => {
    const columns = (file: string): unknown => {
      const db = openDatabase(file);
      try {
        return ['runs', 'tasks', 'leases'].map((t) => db.prepare(`PRAGMA table_info(${t})`).all());
      } finally {
        db.close();
      }
    };
    const fresh = join(dir, 'fresh.sqlite');
    const old = join(dir, 'old.sqlite');
    writeVersion1(old);
    expect(columns(old)).toEqual(columns(fresh));
    expect(columns(fresh)).toEqual(columns(fresh));
  });

  it('refuses a database from a newer coordinator', () => {
    const file = join(dir, 'new.sqlite');
    openDatabase(file).close();
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    expect(() => openDatabase(file)).toThrow(/schema version 99; this coordinator knows 1 to 4/);
  });
});
