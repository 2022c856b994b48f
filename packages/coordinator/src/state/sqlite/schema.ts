import Database from 'better-sqlite3';

/** The schema as version 1 created it; every database starts here and is migrated up. */
export const DDL_V1 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  completed_at INTEGER,
  expected_agents INTEGER NOT NULL,
  stop_agents_on_failure INTEGER NOT NULL,
  branch TEXT,
  reason TEXT
);
CREATE TABLE IF NOT EXISTS agents (
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  parallel INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  tasks_run INTEGER NOT NULL DEFAULT 0,
  exited INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  execution_id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL,
  command TEXT NOT NULL,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_run ON executions (run_id, status);
CREATE TABLE IF NOT EXISTS tasks (
  exec_seq INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  ord INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  project TEXT NOT NULL,
  target TEXT NOT NULL,
  configuration TEXT,
  status TEXT NOT NULL,
  hash TEXT,
  deps TEXT NOT NULL,
  priority REAL NOT NULL,
  agent TEXT,
  exit_code INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER,
  message TEXT,
  log TEXT,
  lease_id TEXT,
  lease_expires_at INTEGER,
  PRIMARY KEY (exec_seq, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (run_id, status, priority DESC, exec_seq, ord);
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks (run_id, status, lease_expires_at);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (exec_seq, status);
CREATE TABLE IF NOT EXISTS task_edges (
  exec_seq INTEGER NOT NULL,
  dep_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  PRIMARY KEY (exec_seq, dep_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  lease_id TEXT PRIMARY KEY,
  exec_seq INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
  hash TEXT PRIMARY KEY,
  exec_seq INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  agent TEXT,
  duration_ms INTEGER,
  recorded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  target TEXT NOT NULL,
  hash TEXT,
  duration_ms INTEGER NOT NULL,
  exit_code INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_target ON history (target, id);
CREATE TABLE IF NOT EXISTS blobs (
  key TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
`;

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  return columns.some((c) => c.name === column);
}

/** ALTER TABLE … ADD COLUMN, skipped when the column is already there (a step is safe to repeat). */
function addColumn(db: Database.Database, table: string, column: string, definition: string): void {
  if (!hasColumn(db, table, column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
}

/** MIGRATIONS[n] takes a database from version n + 1 to n + 2. */
const MIGRATIONS: ReadonlyArray<(db: Database.Database) => void> = [
  // 2: the run model's limits and retries (docs/adr/0002-run-model.md)
  (db) => {
    addColumn(db, 'runs', 'retries', 'INTEGER NOT NULL DEFAULT 0');
    addColumn(db, 'runs', 'stop_agents_after', "TEXT NOT NULL DEFAULT '[]'");
    addColumn(db, 'runs', 'main_timeout_ms', 'INTEGER NOT NULL DEFAULT 30000');
    addColumn(db, 'runs', 'run_timeout_ms', 'INTEGER NOT NULL DEFAULT 10800000');
    addColumn(db, 'runs', 'task_timeout_ms', 'INTEGER NOT NULL DEFAULT 3600000');
    // failed attempts put back by `retries`; lost attempts are attempts - retried
    addColumn(db, 'tasks', 'retried', 'INTEGER NOT NULL DEFAULT 0');
    // how each lease ended: succeeded | failed | retried | lost | timed_out | cancelled | released
    addColumn(db, 'leases', 'outcome', 'TEXT');
    addColumn(db, 'leases', 'ended_at', 'INTEGER');
    addColumn(db, 'leases', 'exit_code', 'INTEGER');
    addColumn(db, 'leases', 'log', 'TEXT');
    // a result that arrived after the coordinator had taken the task back
    addColumn(db, 'leases', 'late_result_at', 'INTEGER');
    addColumn(db, 'leases', 'late_exit_code', 'INTEGER');
    addColumn(db, 'leases', 'late_hash', 'TEXT');
    db.exec('CREATE INDEX IF NOT EXISTS leases_by_task ON leases (exec_seq, task_id)');
    db.exec('CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status)');
  },
  // 3: main's run heartbeat (start-ci-run's heartbeat process); null until it first beats
  (db) => {
    addColumn(db, 'runs', 'main_heartbeat_at', 'INTEGER');
  },
  // 4: trust (docs/security.md): tokens stored as hashes; the cache namespace a run writes
  // to; plan-time results looked up per namespace, so one workspace or branch never
  // sees another's results. Earlier rows belong to the default workspace's shared namespace.
  (db) => {
    db.exec(`CREATE TABLE IF NOT EXISTS tokens (
      token_id TEXT PRIMARY KEY,
      secret_sha256 TEXT NOT NULL UNIQUE,
      scope TEXT NOT NULL,
      workspace TEXT NOT NULL,
      label TEXT,
      branch_scoped INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    )`);
    addColumn(db, 'runs', 'cache_namespace', "TEXT NOT NULL DEFAULT 'default'");
    if (!hasColumn(db, 'results', 'namespace')) {
      db.exec(`CREATE TABLE results_v4 (
        namespace TEXT NOT NULL,
        hash TEXT NOT NULL,
        exec_seq INTEGER NOT NULL,
        task_id TEXT NOT NULL,
        agent TEXT,
        duration_ms INTEGER,
        recorded_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, hash)
      )`);
      db.exec(`INSERT INTO results_v4 (namespace, hash, exec_seq, task_id, agent, duration_ms, recorded_at)
        SELECT 'default', hash, exec_seq, task_id, agent, duration_ms, recorded_at FROM results`);
      db.exec('DROP TABLE results');
      db.exec('ALTER TABLE results_v4 RENAME TO results');
    }
  },
];

/** Version 1 is DDL_V1; each later version is one step of MIGRATIONS. */
export const SCHEMA_VERSION = 1 + MIGRATIONS.length;

/**
 * Opens (creating if needed) the database file in WAL mode with the schema in place:
 * a new file gets version 1 and then every migration, an existing one the migrations
 * it lacks (its version is in meta.schema_version), all in one transaction.
 */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // savepoints (each method of a group commit has one) journal in memory, not in temporary files
  db.pragma('temp_store = MEMORY');
  // a 32 MiB page cache (SQLite's default is 2 MiB): a 10,000-task execution's rows and indexes stay in memory
  db.pragma('cache_size = -32768');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  try {
    db.transaction(() => {
      db.exec(DDL_V1);
      const row = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
        | { value: string }
        | undefined;
      const version = row === undefined ? 1 : Number(row.value);
      if (!Number.isInteger(version) || version < 1 || version > SCHEMA_VERSION) {
        throw new Error(`database ${file} has schema version ${row?.value}; this coordinator knows 1 to ${SCHEMA_VERSION}`);
      }
      for (let v = version; v < SCHEMA_VERSION; v++) (MIGRATIONS[v - 1] as (db: Database.Database) => void)(db);
      db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ).run('schema_version', String(SCHEMA_VERSION));
    })();
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
