import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { streamReporter } from '../../reporter';

interface Args {
  port: number;
  host: string;
  'data-dir': string;
  token?: string;
  'lease-ms': number;
}

/**
 * The token: --token, else FLEET_TOKEN, else one generated on first start and kept in
 * <data-dir>/token (mode 600) so that `serve` with no flags just works. Never printed.
 */
function resolveServerToken(args: Args, dataDir: string): { token: string; origin: string } {
  if (args.token) return { token: args.token, origin: '--token' };
  if (process.env.FLEET_TOKEN) return { token: process.env.FLEET_TOKEN, origin: 'FLEET_TOKEN' };
  const file = join(dataDir, 'token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), origin: file };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return { token: readFileSync(file, 'utf8').trim(), origin: `${file} (generated)` };
}

export const serve: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'Run a coordinator: SQLite state and a blob folder under --data-dir',
  builder: (y) =>
    y
      .option('port', { type: 'number', default: 4646, describe: 'Port to listen on (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on (0.0.0.0 for other machines)' })
      .option('data-dir', { type: 'string', default: '.fleet', describe: 'Folder for the database and the artifacts' })
      .option('token', { type: 'string', describe: 'The bearer token clients must send (default: FLEET_TOKEN, else generated)' })
      .option('lease-ms', { type: 'number', default: 10_000, describe: 'How long an agent owns a task without a heartbeat' })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error('--port must be a whole number from 0 to 65535');
        if (!Number.isInteger(a['lease-ms']) || a['lease-ms'] < 100) throw new Error('--lease-ms must be a whole number of milliseconds, at least 100');
        return true;
      }) as never,
  handler: async (args) => {
    const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
    const dataDir = resolve(args['data-dir']);
    const { token, origin } = resolveServerToken(args, dataDir);
    // the coordinator is loaded only here: no client code depends on it
    const { startServer } = await import('@fleet/coordinator');
    const server = await startServer({
      host: args.host,
      port: args.port,
      dataDir,
      token,
      leaseMs: args['lease-ms'],
      reporter,
    });
    process.stdout.write(`Fleet coordinator listening on ${server.url} (data in ${dataDir}; token from ${origin})\n`);
    const shutdown = (): void => {
      void server.close().then(() => process.exit(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  },
};
