import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { extractTaskArchive, readArchiveCode, readTerminalOutput } from './archive';

/** An archive in the layout Nx's HTTP cache uses (checked against Nx 20.8.4's own PUTs). */
function nxArchive(dir: string, code: number, log: string): string {
  const stage = join(dir, 'stage');
  mkdirSync(join(stage, 'dist/a/sub'), { recursive: true });
  writeFileSync(join(stage, 'dist/a/sub/index.js'), 'module.exports = 1;\n');
  writeFileSync(join(stage, 'dist/a/bin.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(stage, 'dist/a/bin.sh'), 0o4755);
  writeFileSync(join(stage, 'terminalOutput'), log);
  const c = Buffer.alloc(4);
  c.writeInt32BE(code, 0);
  writeFileSync(join(stage, 'code'), c);
  const file = join(dir, 'a.tar.gz');
  tar.c({ cwd: stage, file, gzip: true, sync: true }, ['dist', 'terminalOutput', 'code']);
  return file;
}

describe('Nx cache archives', () => {
  it('restores outputs with their modes, without meta entries or setuid bits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-archive-'));
    const archive = nxArchive(dir, 1, 'FAIL marker-123\n');
    const root = join(dir, 'ws');
    mkdirSync(root);
    expect(extractTaskArchive(archive, root)).toBe(2);
    expect(readFileSync(join(root, 'dist/a/sub/index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(statSync(join(root, 'dist/a/bin.sh')).mode & 0o7777).toBe(0o755);
    expect(existsSync(join(root, 'terminalOutput'))).toBe(false);
    expect(existsSync(join(root, 'code'))).toBe(false);
  });

  it('reads the terminal output and the big-endian exit code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-archive-'));
    const archive = nxArchive(dir, 3, 'line 1\nline 2\n');
    expect(readTerminalOutput(archive)).toBe('line 1\nline 2\n');
    expect(readArchiveCode(archive)).toBe(3);
  });

  it('writes nothing outside the workspace for an entry with ..', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-archive-'));
    const stage = join(dir, 'stage', 'inner');
    mkdirSync(stage, { recursive: true });
    writeFileSync(join(dir, 'stage', 'evil.txt'), 'evil');
    const file = join(dir, 'evil.tar.gz');
    // node-tar keeps '../' in names when asked to preserve paths, as a hostile writer would
    tar.c({ cwd: stage, file, gzip: true, sync: true, preservePaths: true }, ['../evil.txt']);
    const root = join(dir, 'ws');
    mkdirSync(root);
    extractTaskArchive(file, root);
    expect(existsSync(join(dir, 'evil.txt'))).toBe(false);
  });
});
