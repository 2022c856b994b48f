import type { BlobRecord } from '../state-store';
import type { Sql } from './sql';

interface BlobRow {
  key: string;
  sha256: string;
  size: number;
  created_at: number;
}

export function getBlob(sql: Sql, key: string): BlobRecord | null {
  const row = sql.get<BlobRow>('SELECT * FROM blobs WHERE key = ?', key);
  return row === undefined ? null : { key: row.key, sha256: row.sha256, size: row.size, createdAt: row.created_at };
}

export function insertBlob(sql: Sql, record: BlobRecord): boolean {
  const result = sql.run(
    'INSERT INTO blobs (key, sha256, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING',
    record.key,
    record.sha256,
    record.size,
    record.createdAt,
  );
  return result.changes > 0;
}

export function deleteBlob(sql: Sql, key: string): void {
  sql.run('DELETE FROM blobs WHERE key = ?', key);
}
