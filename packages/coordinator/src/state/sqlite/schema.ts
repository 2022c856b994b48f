import Database from 'better-sqlite3';

const SCHEMA_VERSION = 1;

const DDL = `
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

/** Opens (creating if needed) the database file in WAL mode with the schema in place. */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.transaction(() => {
    db.exec(DDL);
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
      | { value: string }
      | undefined;
    if (row === undefined) {
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    } else if (Number(row.value) > SCHEMA_VERSION) {
      throw new Error(`database ${file} has schema version ${row.value}; this coordinator knows ${SCHEMA_VERSION}`);
    }
  })();
  return db;
}
