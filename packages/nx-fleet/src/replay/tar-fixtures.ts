/**
 * Test helper: tar.gz archives written header by header, so a test can build what no
 * well-behaved writer would (absolute or `..` names, devices, FIFOs, links pointing
 * anywhere, pax headers that rename an entry). Not used by the library itself.
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

export interface RawEntry {
  path: string;
  /** node-tar's name of the type; File when omitted. */
  type?: tar.types.EntryTypeName;
  linkpath?: string;
  body?: string | Buffer;
  mode?: number;
  /** A pax extended header before the entry, overriding what its plain header says. */
  pax?: { path?: string; linkpath?: string };
}

/** The blocks of one entry: its (pax and) ustar header, then its body padded to 512 bytes. */
function entryBlocks(e: RawEntry): Buffer[] {
  const body = typeof e.body === 'string' || e.body === undefined ? Buffer.from(e.body ?? '', 'utf8') : e.body;
  const type = e.type ?? 'File';
  const hasBody = type === 'File' || type === 'OldFile' || type === 'ContiguousFile';
  const blocks: Buffer[] = [];
  if (e.pax) blocks.push(new tar.Pax({ ...e.pax, mtime: new Date(0) }, false).encode());
  const header = new tar.Header({
    path: e.path,
    type,
    linkpath: e.linkpath ?? '',
    mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
    size: hasBody ? body.length : 0,
    uid: 0,
    gid: 0,
    mtime: new Date(0),
    uname: '',
    gname: '',
  });
  const block = Buffer.alloc(512);
  header.encode(block);
  blocks.push(block);
  if (hasBody && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  return blocks;
}

/** A gzipped tar of `entries`, in order, ended by the two zero blocks. */
export function rawTarGz(entries: RawEntry[]): Buffer {
  return gzipSync(Buffer.concat([...entries.flatMap(entryBlocks), Buffer.alloc(1024)]));
}

/** The 4-byte big-endian `code` entry and the `terminalOutput` entry of an Nx cache archive. */
export function nxMetaEntries(code = 0, log = 'built\n'): RawEntry[] {
  const c = Buffer.alloc(4);
  c.writeInt32BE(code, 0);
  return [
    { path: 'terminalOutput', body: log },
    { path: 'code', body: c },
  ];
}

/** Writes an Nx cache archive holding `entries` and the meta entries to `file`. */
export function writeRawArchive(file: string, entries: RawEntry[], code = 0): string {
  writeFileSync(file, rawTarGz([...nxMetaEntries(code), ...entries]));
  return file;
}
