import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { FsBlobStore } from './blobs/fs/fs-blob-store';
import { parseServerConfig, type ServerConfig } from './config';
import { SqliteStateStore } from './state/sqlite/sqlite-state-store';
import { randomIds, systemClock } from './system';

export interface RunningServer {
  /** e.g. http://127.0.0.1:4646 */
  readonly url: string;
  close(): Promise<void>;
}

/** Parses the config, opens the SQLite state and the blob folder under dataDir, and listens. */
export async function startServer(input: ServerConfig): Promise<RunningServer> {
  const config = parseServerConfig(input);
  const dataDir = resolve(config.dataDir);
  mkdirSync(join(dataDir, 'blobs'), { recursive: true });
  const state = new SqliteStateStore(join(dataDir, 'state.sqlite'));
  const blobs = new FsBlobStore(join(dataDir, 'blobs'));
  const app = createApp({
    state,
    blobs,
    clock: systemClock,
    ids: randomIds,
    config,
    reporter: config.reporter,
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await state.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  config.reporter.info(`coordinator listening on ${url}`, { dataDir });
  let closing: Promise<void> | null = null;
  return {
    url,
    close(): Promise<void> {
      closing ??= (async (): Promise<void> => {
        await app.close();
        await state.close();
      })();
      return closing;
    },
  };
}
