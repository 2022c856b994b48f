import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import * as tar from 'tar';
import type { Reporter } from '../reporter';
import { describeError } from '../util/errors';

/** Nx's `remoteCache` option of the legacy file cache (Nx 19, or 20 with useLegacyCache). */
export interface LegacyRemoteCache {
  retrieve(hash: string, cacheDirectory: string): Promise<boolean>;
  store(hash: string, cacheDirectory: string): Promise<boolean>;
}

/**
 * Speaks Nx's self-hosted HTTP cache format (a tar.gz of workspace-relative outputs plus
 * `terminalOutput` and a 4-byte big-endian `code`) to a cache URL, and converts it to and
 * from the legacy folder layout `<cacheDir>/<hash>/{outputs/,terminalOutput,code}` with
 * its `<hash>.commit` marker. The `source` machine id is not written: a foreign one would
 * make later local hits fail with "Invalid Cache Directory".
 */
export function legacyRemoteCache(baseUrl: string, secret: string, reporter: Reporter): LegacyRemoteCache {
  const url = (hash: string): string => `${baseUrl.replace(/\/+$/, '')}/v1/cache/${encodeURIComponent(hash)}`;
  const auth = { authorization: `Bearer ${secret}` };
  return {
    async retrieve(hash, cacheDirectory) {
      const work = await mkdtemp(join(cacheDirectory, `.fleet-${hash}-`));
      try {
        const res = await request(url(hash), { method: 'GET', headers: auth, headersTimeout: 0, bodyTimeout: 300_000 });
        if (res.statusCode !== 200) {
          await res.body.dump();
          return false;
        }
        const archive = join(work, 'artifact.tar.gz');
        await pipeline(res.body, createWriteStream(archive));
        const unpacked = join(work, 'unpacked');
        await mkdir(unpacked);
        await tar.x({ file: archive, cwd: unpacked, preserveOwner: false });
        const entry = join(cacheDirectory, hash);
        await rm(entry, { recursive: true, force: true });
        await mkdir(join(entry, 'outputs'), { recursive: true });
        for (const name of await readdir(unpacked)) {
          if (name === 'terminalOutput') await rename(join(unpacked, name), join(entry, 'terminalOutput'));
          else if (name === 'code') {
            const buf = await readFile(join(unpacked, name));
            await writeFile(join(entry, 'code'), String(buf.length === 4 ? buf.readInt32BE(0) : 0));
          } else await rename(join(unpacked, name), join(entry, 'outputs', name));
        }
        if (!existsSync(join(entry, 'terminalOutput'))) await writeFile(join(entry, 'terminalOutput'), '');
        await writeFile(join(cacheDirectory, `${hash}.commit`), 'true');
        return true;
      } catch (error) {
        reporter.warn(`remote cache: could not restore ${hash}: ${describeError(error)}`);
        return false;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
    async store(hash, cacheDirectory) {
      const entry = join(cacheDirectory, hash);
      const work = await mkdtemp(join(cacheDirectory, `.fleet-${hash}-`));
      try {
        const stage = join(work, 'stage');
        await mkdir(stage);
        const outputs = join(entry, 'outputs');
        if (existsSync(outputs)) await cp(outputs, stage, { recursive: true, verbatimSymlinks: true });
        const terminalOutput = existsSync(join(entry, 'terminalOutput')) ? await readFile(join(entry, 'terminalOutput')) : Buffer.alloc(0);
        await writeFile(join(stage, 'terminalOutput'), terminalOutput);
        const codeText = existsSync(join(entry, 'code')) ? await readFile(join(entry, 'code'), 'utf8') : '0';
        const code = Buffer.alloc(4);
        code.writeInt32BE(Number(codeText) || 0, 0);
        await writeFile(join(stage, 'code'), code);
        const archive = join(work, 'artifact.tar.gz');
        await tar.c({ cwd: stage, file: archive, gzip: true, portable: true }, await readdir(stage));
        const { size } = await stat(archive);
        const res = await request(url(hash), {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(size) },
          body: createReadStream(archive),
        });
        await res.body.dump();
        return res.statusCode === 200 || res.statusCode === 409;
      } catch (error) {
        reporter.warn(`remote cache: could not store ${hash}: ${describeError(error)}`);
        return false;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}
