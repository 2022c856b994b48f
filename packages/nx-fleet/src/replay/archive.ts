import { closeSync, openSync, readSync, statSync } from 'node:fs';
import * as tar from 'tar';
import { FleetError } from '../util/errors';

/** Entries of Nx's cache archive that are not output files. */
const META_ENTRIES = new Set(['terminalOutput', 'code']);

/** The entry types a cache archive may hold; anything else (devices, FIFOs, ...) is refused. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'Directory', 'SymbolicLink', 'Link']);

/** How many symbolic links one name may pass through before it counts as a loop. */
const MAX_LINK_HOPS = 40;

/** One reason not to restore an archive: the entry, as named in the archive, and why. */
export interface ArchiveProblem {
  entry: string;
  reason: string;
}

/** An archive that could write outside its target or create special files; nothing of it was restored. */
export class UnsafeArchiveError extends FleetError {
  constructor(
    readonly archive: string,
    readonly problems: ArchiveProblem[],
  ) {
    const shown = problems.slice(0, 5).map((p) => `${p.entry}: ${p.reason}`);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    super(
      `refused the cache archive ${archive}, nothing of it was restored: unsafe ${problems.length === 1 ? 'entry' : 'entries'} ` +
        `${shown.join('; ')}${more}`,
      'unsafe_archive',
    );
    this.name = 'UnsafeArchiveError';
  }
}

/**
 * Restores the output files of an Nx cache archive into `root`, synchronously (the
 * preload runs before any event loop work). Cache archives come from a shared cache, so
 * the whole archive is checked first (see inspectArchive) and an unsafe one is refused
 * with an UnsafeArchiveError before anything is written. Symbolic and hard links that
 * stay inside `root` are restored; setuid, setgid and sticky bits never are. A write
 * that node-tar refuses anyway (e.g. through a symbolic link already on disk) is an error
 * too, not a silently missing file.
 */
export function extractTaskArchive(archive: string, root: string): number {
  checkArchiveSafety(archive);
  let files = 0;
  const failures: ArchiveProblem[] = [];
  tar.x({
    file: archive,
    cwd: root,
    sync: true,
    preserveOwner: false,
    filter: (path) => !META_ENTRIES.has(stripDot(path)),
    onentry: (entry) => {
      if (entry.mode) entry.mode &= 0o777;
      if (entry.type !== 'Directory') files++;
    },
    onwarn: (code, message, data) => {
      if (code === 'TAR_ENTRY_INFO') return;
      const entry = (data as { entry?: { path?: string } } | undefined)?.entry?.path ?? '(archive)';
      failures.push({ entry, reason: `${message} [${code}]` });
    },
  });
  if (failures.length > 0) {
    throw new FleetError(
      `could not fully restore the cache archive ${archive} into ${root}: ${failures
        .slice(0, 5)
        .map((f) => `${f.entry}: ${f.reason}`)
        .join('; ')}`,
      'archive_extract_failed',
    );
  }
  return files;
}

/** Throws an UnsafeArchiveError naming the offending entries when `archive` is not safe to restore. */
export function checkArchiveSafety(archive: string): void {
  const { problems } = inspectArchive(archive);
  if (problems.length > 0) throw new UnsafeArchiveError(archive, problems);
}

function stripDot(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

/** The bytes of one entry of an archive (null when it has none), read synchronously. */
function readEntry(archive: string, name: string): Buffer | null {
  const chunks: Buffer[] = [];
  let found = false;
  tar.t({
    file: archive,
    sync: true,
    filter: (path) => path.replace(/^\.\//, '') === name,
    onentry: (entry) => {
      found = true;
      entry.on('data', (c: Buffer) => chunks.push(c));
    },
  });
  return found ? Buffer.concat(chunks) : null;
}

/** The `terminalOutput` entry of an Nx cache archive. */
export function readTerminalOutput(archive: string): string | null {
  return readEntry(archive, 'terminalOutput')?.toString('utf8') ?? null;
}

/** The exit code in an Nx cache archive's 4-byte big-endian `code` entry. */
export function readArchiveCode(archive: string): number | null {
  return inspectArchive(archive).code;
}

export interface ArchiveSummary {
  /** The exit code of the `code` entry; null when it has none. */
  code: number | null;
  /**
   * Entry names with a backslash: an archive written with Windows path separators
   * (`dist\a\index.js`). On Linux and macOS such an entry is one file with backslashes
   * in its name, not the output file, so restoring it would be a hit that restores nothing.
   */
  backslashNames: string[];
  /** Why restoring the archive would be unsafe, one problem per offending entry; empty when it is safe. */
  problems: ArchiveProblem[];
}

interface ScannedEntry {
  /** The name as the archive gives it, for messages. */
  name: string;
  type: string;
  /** The names a reader of the entry might use: node-tar's (pax applied), its header's, the pax header's own. */
  paths: string[];
  linkpaths: string[];
}

/**
 * The exit code, the odd entry names and the safety problems of an archive, in one
 * synchronous pass over the file. Unsafe: an absolute name (`/x`, `C:\x`, `C:/x`), a `..`
 * that climbs out of the root (after normalising `./` and backslashes), a type other than
 * file, directory, symbolic or hard link (devices, FIFOs, ...), a link whose target is
 * absolute or resolves outside the root (through the archive's own links too), a name
 * under one of the archive's symbolic links (a write through the link), a header node-tar
 * cannot read. Besides the name and target node-tar uses, those of the entry's own pax
 * header (and a global one's target) are checked too, whichever node-tar let win.
 */
export function inspectArchive(archive: string): ArchiveSummary {
  const chunks: Buffer[] = [];
  let found = false;
  const backslashNames: string[] = [];
  const entries: ScannedEntry[] = [];
  const problems: ArchiveProblem[] = [];
  const parser = new tar.Parser({ file: archive });
  parser.on('entry', (entry: tar.ReadEntry) => {
    const name = stripDot(entry.path);
    if (name.includes('\\')) backslashNames.push(name);
    entries.push(scanned(entry));
    if (name === 'code') {
      found = true;
      entry.on('data', (c: Buffer) => chunks.push(c));
    }
    entry.resume();
  });
  // entries of types node-tar does not know are skipped by it without an 'entry' event
  parser.on('ignoredEntry', (entry: tar.ReadEntry) => {
    problems.push({ entry: entry.path, reason: `unsupported entry type ${entry.header.typeKey ?? entry.type}` });
  });
  parser.on('warn', (code: string, message: string, data?: { header?: { path?: string }; entry?: { path?: string } }) => {
    // a file that is not a tar archive at all restores nothing: not a safety problem
    if (code === 'TAR_BAD_ARCHIVE' && message.includes('Unrecognized archive format')) return;
    const entry = data?.entry?.path ?? data?.header?.path ?? '(archive)';
    problems.push({ entry, reason: `unreadable entry: ${message} [${code}]` });
  });
  readSyncInto(archive, parser);
  problems.unshift(...entryProblems(entries));
  const buf = found ? Buffer.concat(chunks) : null;
  return { code: buf && buf.length === 4 ? buf.readInt32BE(0) : null, backslashNames, problems };
}

/** Feeds a file to a node-tar parser synchronously, as node-tar's own `t({ sync: true })` does. */
function readSyncInto(file: string, parser: tar.Parser): void {
  const readSize = 16 * 1024 * 1024;
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(readSize, Math.max(size, 1)));
    let pos = 0;
    while (pos < size) {
      const read = readSync(fd, buf, 0, buf.length, pos);
      if (read === 0) break;
      pos += read;
      parser.write(Buffer.from(buf.subarray(0, read)));
    }
    parser.end();
  } finally {
    closeSync(fd);
  }
}

function scanned(entry: tar.ReadEntry): ScannedEntry {
  const defined = (values: Array<string | undefined>) => [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
  return {
    name: entry.path,
    type: entry.type,
    paths: defined([entry.path, entry.header.path, entry.extended?.path]),
    linkpaths: defined([entry.linkpath, entry.header.linkpath, entry.extended?.linkpath, entry.globalExtended?.linkpath]),
  };
}

/** Splits a name into its segments, with backslashes as separators and `.` segments dropped. */
function segments(name: string): string[] {
  return name
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.');
}

function isAbsoluteName(name: string): boolean {
  const n = name.replace(/\\/g, '/');
  return n.startsWith('/') || /^[a-zA-Z]:/.test(n);
}

/** The segments of `parts` resolved lexically from the root, or null when a `..` climbs out of it. */
function lexical(parts: string[]): string[] | null {
  const out: string[] = [];
  for (const part of parts) {
    if (part !== '..') out.push(part);
    else if (out.length === 0) return null;
    else out.pop();
  }
  return out;
}

/**
 * Where a name (segments from the root) ends up once the archive's own symbolic links in
 * it are followed, or a reason it leaves the root. Links on disk are not known here;
 * node-tar refuses to write through those.
 */
function resolveThroughLinks(parts: string[], links: Map<string, string>, hops = 0): string[] | string {
  const done: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '..') {
      if (done.length === 0) return 'climbs out of the extraction root';
      done.pop();
      continue;
    }
    done.push(part);
    const target = links.get(done.join('/'));
    if (target === undefined) continue;
    if (hops >= MAX_LINK_HOPS) return 'passes through too many symbolic links (a loop?)';
    if (isAbsoluteName(target)) return `passes through the symbolic link ${done.join('/')}, which points to the absolute path ${target}`;
    return resolveThroughLinks([...done.slice(0, -1), ...segments(target), ...parts.slice(i + 1)], links, hops + 1);
  }
  return done;
}

function entryProblems(entries: ScannedEntry[]): ArchiveProblem[] {
  const problems: ArchiveProblem[] = [];
  const links = new Map<string, string>();
  for (const e of entries) {
    if (e.type !== 'SymbolicLink') continue;
    const path = lexical(segments(e.paths[0]));
    if (path && path.length > 0 && e.linkpaths[0] !== undefined) links.set(path.join('/'), e.linkpaths[0]);
  }
  for (const e of entries) {
    const problem = entryProblem(e, links);
    if (problem) problems.push({ entry: e.name, reason: problem });
  }
  return problems;
}

function entryProblem(e: ScannedEntry, links: Map<string, string>): string | null {
  if (!ALLOWED_TYPES.has(e.type)) return `entry type ${e.type} is not allowed (only files, directories and links are restored)`;
  for (const name of e.paths) {
    // the plain header's name or the pax one's may differ from the name node-tar uses
    const path = name === e.name ? 'its path' : `its path ${name} (in the plain or pax header)`;
    if (isAbsoluteName(name)) return `${path} is absolute`;
    const parts = lexical(segments(name));
    if (!parts) return `${path} climbs out of the extraction root with '..'`;
    if (segments(name).includes('..')) return `${path} contains '..'`;
    if (parts.length === 0 && e.type !== 'Directory') return `a ${e.type} entry cannot replace the extraction root`;
    for (let i = 1; i < parts.length; i++) {
      const through = parts.slice(0, i).join('/');
      if (links.has(through)) return `${path} goes through ${through}, a symbolic link of the same archive`;
    }
  }
  if (e.type !== 'SymbolicLink' && e.type !== 'Link') return null;
  if (e.linkpaths.length === 0) return `${e.type} without a target`;
  for (const name of e.paths) {
    const dir = (lexical(segments(name)) ?? []).slice(0, -1);
    for (const target of e.linkpaths) {
      const kind = e.type === 'SymbolicLink' ? 'symbolic link' : 'hard link';
      if (isAbsoluteName(target)) return `${kind} to the absolute path ${target}`;
      // a symbolic link's target is relative to the link's directory, a hard link's to the root
      const from = e.type === 'SymbolicLink' ? [...dir, ...segments(target)] : segments(target);
      const resolved = resolveThroughLinks(from, links);
      if (typeof resolved === 'string') return `${kind} to ${target}, which ${resolved}`;
    }
  }
  return null;
}
