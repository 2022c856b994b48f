import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as tar from 'tar';
import { FleetError } from '../util/errors';
import { checkArchiveSafety, extractTaskArchive, inspectArchive, readArchiveCode, readTerminalOutput, UnsafeArchiveError } from './archive';
import { writeRawArchive, type RawEntry } from './tar-fixtures';

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

  it('refuses an entry with .., written by node-tar itself, and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-archive-'));
    const stage = join(dir, 'stage', 'inner');
    mkdirSync(stage, { recursive: true });
    writeFileSync(join(dir, 'stage', 'evil.txt'), 'evil');
    writeFileSync(join(stage, 'fine.txt'), 'fine');
    const file = join(dir, 'evil.tar.gz');
    // node-tar keeps '../' in names when asked to preserve paths, as a hostile writer would
    tar.c({ cwd: stage, file, gzip: true, sync: true, preservePaths: true }, ['fine.txt', '../evil.txt']);
    const root = join(dir, 'ws');
    mkdirSync(root);
    expect(() => extractTaskArchive(file, root)).toThrow(/\.\.\/evil\.txt/);
    expect(existsSync(join(dir, 'evil.txt'))).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});

/**
 * A target `<dir>/parent/ws` next to `<dir>/parent/outside/secret.txt`, the archive in
 * `<dir>/archives`; `tree()` lists everything under parent, so a test sees any write.
 */
function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-unsafe-'));
  const parent = join(dir, 'parent');
  const root = join(parent, 'ws');
  const outside = join(parent, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  mkdirSync(join(dir, 'archives'));
  const tree = (): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const st = lstatSync(p);
        const key = relative(parent, p);
        if (st.isSymbolicLink()) out[key] = `-> ${readlinkSync(p)}`;
        else if (st.isDirectory()) {
          out[key] = 'dir';
          walk(p);
        } else out[key] = st.isFile() ? readFileSync(p, 'utf8') : 'special';
      }
    };
    walk(parent);
    return out;
  };
  const untouched = { ws: 'dir', outside: 'dir', 'outside/secret.txt': 'secret' };
  return { dir, parent, root, outside, tree, untouched, archive: (entries: RawEntry[]) => writeRawArchive(join(dir, 'archives', 'a.tar.gz'), entries) };
}

describe('extractTaskArchive refuses unsafe archives before writing anything', () => {
  const ok: RawEntry = { path: 'dist/ok.txt', body: 'ok' };
  // each case: the archive's output entries, and the entry the error must name
  const cases: Array<[string, (s: ReturnType<typeof sandbox>) => RawEntry[], string]> = [
    ['an absolute path', (s) => [ok, { path: join(s.outside, 'abs.txt'), body: 'x' }], 'abs.txt'],
    ['a Windows drive path C:\\', () => [ok, { path: 'C:\\evil.txt', body: 'x' }], 'C:\\evil.txt'],
    ['a Windows drive path C:/', () => [ok, { path: 'C:/evil.txt', body: 'x' }], 'C:/evil.txt'],
    ['a .. path', () => [ok, { path: '../outside/dotdot.txt', body: 'x' }], '../outside/dotdot.txt'],
    ['a path climbing out after ./a/..', () => [ok, { path: './a/../../outside/x.txt', body: 'x' }], './a/../../outside/x.txt'],
    ['a .. path with backslashes', () => [ok, { path: 'a\\..\\..\\outside\\x.txt', body: 'x' }], 'a\\..\\..\\outside\\x.txt'],
    ['a .. that stays inside', () => [ok, { path: 'dist/../dist/x.txt', body: 'x' }], 'dist/../dist/x.txt'],
    ['a character device', () => [ok, { path: 'dist/null', type: 'CharacterDevice' }], 'dist/null'],
    ['a block device', () => [ok, { path: 'dist/sda', type: 'BlockDevice' }], 'dist/sda'],
    ['a FIFO', () => [ok, { path: 'dist/pipe', type: 'FIFO' }], 'dist/pipe'],
    ['a contiguous file', () => [ok, { path: 'dist/contig', type: 'ContiguousFile', body: 'x' }], 'dist/contig'],
    ['a type node-tar skips (Solaris ACL)', () => [ok, { path: 'dist/acl', type: 'SolarisACL' }], 'dist/acl'],
    ['a symbolic link to an absolute path', (s) => [ok, { path: 'dist/abs', type: 'SymbolicLink', linkpath: s.outside }], 'dist/abs'],
    ['a symbolic link climbing out', () => [ok, { path: 'dist/rel', type: 'SymbolicLink', linkpath: '../../outside' }], 'dist/rel'],
    ['a symbolic link to ..', () => [ok, { path: 'up', type: 'SymbolicLink', linkpath: '..' }], 'up'],
    [
      'a symbolic link that climbs out through another link of the archive',
      () => [ok, { path: 'dist/l', type: 'SymbolicLink', linkpath: 'here/../../outside' }, { path: 'dist/here', type: 'SymbolicLink', linkpath: '.' }],
      'dist/l',
    ],
    ['a hard link to an absolute path', (s) => [ok, { path: 'dist/h', type: 'Link', linkpath: join(s.outside, 'secret.txt') }], 'dist/h'],
    ['a hard link climbing out', () => [ok, { path: 'dist/h', type: 'Link', linkpath: '../outside/secret.txt' }], 'dist/h'],
    [
      'a hard link out, then a file written through it',
      () => [ok, { path: 'h', type: 'Link', linkpath: '../outside/secret.txt' }, { path: 'h', body: 'pwned' }],
      'h',
    ],
    [
      'a symbolic link out, then a file written through it',
      () => [ok, { path: 'dir', type: 'SymbolicLink', linkpath: '../outside' }, { path: 'dir/secret.txt', body: 'pwned' }],
      'dir',
    ],
    [
      'a symbolic link inside, then a file written through it',
      () => [ok, { path: 'b', type: 'Directory' }, { path: 'a', type: 'SymbolicLink', linkpath: 'b' }, { path: 'a/x.txt', body: 'x' }],
      'a/x.txt',
    ],
    [
      'a symbolic link under another link of the archive',
      () => [ok, { path: 'a', type: 'SymbolicLink', linkpath: '.' }, { path: 'a/b', type: 'SymbolicLink', linkpath: '..' }],
      'a/b',
    ],
    ['a pax name that climbs out', () => [ok, { path: 'dist/fine.txt', pax: { path: '../outside/pax.txt' }, body: 'x' }], '../outside/pax.txt'],
    [
      'a pax link target that climbs out',
      () => [ok, { path: 'dist/l', type: 'SymbolicLink', linkpath: 'ok.txt', pax: { linkpath: '../../outside' } }],
      'dist/l',
    ],
  ];

  it.each(cases)('%s', (_what, entries, named) => {
    const s = sandbox();
    const file = s.archive(entries(s));
    let error: unknown;
    try {
      extractTaskArchive(file, s.root);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as FleetError).code).toBe('unsafe_archive');
    expect((error as Error).message).toContain(named);
    expect((error as UnsafeArchiveError).problems.some((p) => p.entry.includes(named))).toBe(true);
    expect(() => checkArchiveSafety(file)).toThrow(UnsafeArchiveError);
    // nothing outside the target, and, the check running first, nothing inside it either
    expect(s.tree()).toEqual(s.untouched);
  });

  it('names every offending entry and why', () => {
    const s = sandbox();
    const file = s.archive([
      { path: '/etc/evil', body: 'x' },
      { path: 'dist/pipe', type: 'FIFO' },
    ]);
    expect(() => extractTaskArchive(file, s.root)).toThrow(
      /\/etc\/evil: its path is absolute; dist\/pipe: entry type FIFO is not allowed/,
    );
  });
});

describe('extractTaskArchive restores what stays inside', () => {
  it('restores symbolic and hard links that stay inside the target', () => {
    const s = sandbox();
    const file = s.archive([
      { path: './', type: 'Directory' },
      { path: 'node_modules/tool/cli.js', body: 'cli', mode: 0o755 },
      { path: 'node_modules/.bin/tool', type: 'SymbolicLink', linkpath: '../tool/cli.js' },
      { path: 'dist/v1/index.js', body: 'v1' },
      { path: 'dist/latest', type: 'SymbolicLink', linkpath: 'v1' },
      { path: 'dist/copy.js', type: 'Link', linkpath: 'dist/v1/index.js' },
      { path: 'dist/dangling', type: 'SymbolicLink', linkpath: 'not-built-yet' },
    ]);
    expect(inspectArchive(file).problems).toEqual([]);
    extractTaskArchive(file, s.root);
    expect(readlinkSync(join(s.root, 'node_modules/.bin/tool'))).toBe('../tool/cli.js');
    expect(readFileSync(join(s.root, 'node_modules/.bin/tool'), 'utf8')).toBe('cli');
    expect(readlinkSync(join(s.root, 'dist/latest'))).toBe('v1');
    expect(readFileSync(join(s.root, 'dist/latest/index.js'), 'utf8')).toBe('v1');
    expect(statSync(join(s.root, 'dist/copy.js')).ino).toBe(statSync(join(s.root, 'dist/v1/index.js')).ino);
    expect(readlinkSync(join(s.root, 'dist/dangling'))).toBe('not-built-yet');
    expect(existsSync(join(s.root, 'code'))).toBe(false);
    expect(readFileSync(join(s.outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('restores an archive node-tar made of a real build with a symbolic link', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-archive-'));
    const stage = join(dir, 'stage');
    mkdirSync(join(stage, 'node_modules/.bin'), { recursive: true });
    mkdirSync(join(stage, 'node_modules/pkg'), { recursive: true });
    writeFileSync(join(stage, 'node_modules/pkg/bin.js'), 'bin');
    symlinkSync('../pkg/bin.js', join(stage, 'node_modules/.bin/pkg'));
    writeFileSync(join(stage, 'terminalOutput'), 'ok\n');
    writeFileSync(join(stage, 'code'), Buffer.alloc(4));
    const file = join(dir, 'a.tar.gz');
    tar.c({ cwd: stage, file, gzip: true, sync: true }, ['node_modules', 'terminalOutput', 'code']);
    const root = join(dir, 'ws');
    mkdirSync(root);
    expect(extractTaskArchive(file, root)).toBe(2);
    expect(lstatSync(join(root, 'node_modules/.bin/pkg')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(root, 'node_modules/.bin/pkg'), 'utf8')).toBe('bin');
  });

  it('drops setuid, setgid and sticky bits from files and directories', () => {
    const s = sandbox();
    const file = s.archive([
      { path: 'dist', type: 'Directory', mode: 0o3777 },
      { path: 'dist/suid', body: 'x', mode: 0o4755 },
      { path: 'dist/sgid', body: 'x', mode: 0o2755 },
      { path: 'dist/all', body: 'x', mode: 0o7777 },
    ]);
    extractTaskArchive(file, s.root);
    for (const name of ['dist', 'dist/suid', 'dist/sgid', 'dist/all']) {
      expect(statSync(join(s.root, name)).mode & 0o7000).toBe(0);
    }
    expect(statSync(join(s.root, 'dist/suid')).mode & 0o777).toBe(0o755);
  });

  it('fails loudly, writing nothing outside, when the target already holds a link out', () => {
    const s = sandbox();
    // not in the archive, so the check cannot see it: node-tar must refuse to write through it
    symlinkSync('../outside', join(s.root, 'out'));
    const file = s.archive([{ path: 'out/secret.txt', body: 'pwned' }, { path: 'out/new.txt', body: 'pwned' }]);
    expect(inspectArchive(file).problems).toEqual([]);
    expect(() => extractTaskArchive(file, s.root)).toThrow(/out\/secret\.txt/);
    expect(readFileSync(join(s.outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(existsSync(join(s.outside, 'new.txt'))).toBe(false);
  });
});
