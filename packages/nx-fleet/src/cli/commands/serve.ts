import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { RUN_LIMITS } from '@fleet/protocol';
import { streamReporter } from '../../reporter';
import { parseDurationFlag } from '../run-options';

interface Args {
  port: number;
  host: string;
  'data-dir': string;
  token?: string;
  'lease-ms': number;
  'lease-retries': number;
  'max-artifact-mb'?: number;
  'main-timeout'?: string;
  'run-timeout'?: string;
  'task-timeout'?: string;
  'agentless-timeout'?: string;
}

/** The server-wide defaults runs get when start-ci-run sets none (and the coordinator's own limits). */
function serverLimits(a: Args): Record<string, number> {
  const limits: Record<string, number> = {};
  if (a['max-artifact-mb'] !== undefined) limits.maxArtifactBytes = Math.round(a['max-artifact-mb'] * 1024 * 1024);
  if (a['main-timeout'] !== undefined) limits.mainSilenceMs = parseDurationFlag('main-timeout', a['main-timeout'], RUN_LIMITS.mainTimeoutMs);
  if (a['run-timeout'] !== undefined) limits.runTimeoutMs = parseDurationFlag('run-timeout', a['run-timeout'], RUN_LIMITS.runTimeoutMs);
  if (a['task-timeout'] !== undefined) limits.taskTimeoutMs = parseDurationFlag('task-timeout', a['task-timeout'], RUN_LIMITS.taskTimeoutMs);
  if (a['agentless-timeout'] !== undefined) {
    limits.noAgentMs = parseDurationFlag('agentless-timeout', a['agentless-timeout'], { min: 1_000, max: 24 * 3_600_000 });
  }
  return limits;
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
      .option('lease-retries', { type: 'number', default: 2, describe: 'Times a task whose agent was lost is put back before it fails' })
      .option('max-artifact-mb', { type: 'number', describe: 'Largest artifact accepted, in MiB (default 2048)' })
      .option('main-timeout', { type: 'string', describe: 'Default for runs: fail a run whose main job is silent this long (default 30s)' })
      .option('run-timeout', { type: 'string', describe: 'Default for runs: fail a run this long after it opened (default 3h)' })
      .option('task-timeout', { type: 'string', describe: 'Default for runs: fail one attempt of a task after this long (default 1h)' })
      .option('agentless-timeout', { type: 'string', describe: 'Fail a run whose ready tasks have had no agent for this long (default 30s)' })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error('--port must be a whole number from 0 to 65535');
        if (!Number.isInteger(a['lease-retries']) || a['lease-retries'] < 0 || a['lease-retries'] > 10) {
          throw new Error('--lease-retries must be a whole number from 0 to 10');
        }
        const mb = a['max-artifact-mb'];
        if (mb !== undefined && (!Number.isFinite(mb) || mb <= 0 || mb > 1024 * 1024)) throw new Error('--max-artifact-mb must be a number of MiB above 0');
        serverLimits(a); // throws naming the flag and its range
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
      leaseRetries: args['lease-retries'],
      ...serverLimits(args),
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
