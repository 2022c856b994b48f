import * as tar from 'tar';

/** Entries of Nx's cache archive that are not output files. */
const META_ENTRIES = new Set(['terminalOutput', 'code']);

/**
 * Restores the output files of an Nx cache archive into `root`, synchronously (the
 * preload runs before any event loop work). node-tar refuses absolute paths and `..`
 * by default; links and special files are not restored, nor setuid/setgid bits.
 */
export function extractTaskArchive(archive: string, root: string): number {
  let files = 0;
  tar.x({
    file: archive,
    cwd: root,
    sync: true,
    preserveOwner: false,
    filter: (path, entry) => {
      const name = path.replace(/^\.\//, '');
      if (META_ENTRIES.has(name)) return false;
      const type = 'type' in entry ? entry.type : undefined;
      const ok = type === undefined || type === 'File' || type === 'Directory' || type === 'OldFile';
      if (ok && type !== 'Directory') files++;
      return ok;
    },
    onentry: (entry) => {
      if (entry.mode) entry.mode &= 0o777;
    },
  });
  return files;
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
}

/** The exit code and the suspicious entry names of an archive, in one synchronous pass. */
export function inspectArchive(archive: string): ArchiveSummary {
  const chunks: Buffer[] = [];
  let found = false;
  const backslashNames: string[] = [];
  tar.t({
    file: archive,
    sync: true,
    onentry: (entry) => {
      const name = entry.path.replace(/^\.\//, '');
      if (name.includes('\\')) backslashNames.push(name);
      if (name === 'code') {
        found = true;
        entry.on('data', (c: Buffer) => chunks.push(c));
      }
    },
  });
  const buf = found ? Buffer.concat(chunks) : null;
  return { code: buf && buf.length === 4 ? buf.readInt32BE(0) : null, backslashNames };
}
