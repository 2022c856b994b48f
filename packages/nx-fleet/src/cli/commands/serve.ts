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
  'trusted-branches'?: string;
  'rate-limit'?: number;
  'max-long-polls'?: number;
}

/** Whole number from min to max, or a message naming the flag. */
function wholeNumber(flag: string, value: number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${flag} must be a whole number from ${min} to ${max}`);
  return value;
}

/** `main,release/*` -> ['main', 'release/*']; an empty value trusts no branch. */
function trustedBranches(raw: string | undefined): string[] | undefined {
  const value = raw ?? process.env.FLEET_TRUSTED_BRANCHES;
  if (value === undefined) return undefined;
  const list = value.split(',').map((b) => b.trim()).filter((b) => b !== '');
  for (const b of list) {
    if (b.length > 256 || /[\x00-\x1f\x7f]/.test(b)) throw new Error(`--trusted-branches: "${b.slice(0, 40)}" is not a branch name or pattern`);
  }
  return list;
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
  const rate = wholeNumber('rate-limit', a['rate-limit'], 0, 100_000_000);
  if (rate !== undefined) limits.rateLimitPerMinute = rate;
  const polls = wholeNumber('max-long-polls', a['max-long-polls'], 1, 1_000_000);
  if (polls !== undefined) limits.maxLongPollsPerToken = polls;
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

/** Runs `start`, turning the system errors a wrong --data-dir, --port or --host gives into one line saying what to change. */
async function explainStartError<T>(args: Args, dataDir: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${args.host}:${args.port}`;
    switch (code) {
      case 'ENOTDIR':
      case 'EEXIST':
        throw new Error(`--data-dir ${dataDir} cannot be used: a file is in the way of the folder (pick another --data-dir)`);
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        throw new Error(`cannot write to --data-dir ${dataDir} or listen on ${where} (${code}): pick a folder this user can write, or a port above 1023`);
      case 'EADDRINUSE':
        throw new Error(`${where} is already in use (another coordinator?): stop it, or pick another --port`);
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        throw new Error(`--host ${args.host} is not an address of this machine (${code}): use 127.0.0.1, 0.0.0.0 or one of its addresses`);
      default:
        throw error;
    }
  }
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
      .option('trusted-branches', {
        type: 'string',
        describe: 'Comma-separated branches (or patterns like release/*) whose cache writes are shared (default: FLEET_TRUSTED_BRANCHES, else main,master)',
      })
      .option('rate-limit', { type: 'number', describe: 'Requests per token per minute before 429 (default 20000; 0 = no limit)' })
      .option('max-long-polls', { type: 'number', describe: 'Long-polls one token may hold open at once (default 1000)' })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error('--port must be a whole number from 0 to 65535');
        if (!Number.isInteger(a['lease-retries']) || a['lease-retries'] < 0 || a['lease-retries'] > 10) {
          throw new Error('--lease-retries must be a whole number from 0 to 10');
        }
        const mb = a['max-artifact-mb'];
        if (mb !== undefined && (!Number.isFinite(mb) || mb <= 0 || mb > 1024 * 1024)) throw new Error('--max-artifact-mb must be a number of MiB above 0');
        serverLimits(a); // throws naming the flag and its range
        trustedBranches(a['trusted-branches']);
        if (!Number.isInteger(a['lease-ms']) || a['lease-ms'] < 100) throw new Error('--lease-ms must be a whole number of milliseconds, at least 100');
        if (String(a['data-dir']).trim() === '') throw new Error('--data-dir must name a folder (default .fleet)');
        return true;
      }) as never,
  handler: async (args) => {
    const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
    const dataDir = resolve(args['data-dir']);
    // the coordinator is loaded only here: no client code depends on it
    const { startServer } = await import('@fleet/coordinator');
    const server = await explainStartError(args, dataDir, async () => {
      const { token, origin } = resolveServerToken(args, dataDir);
      return { origin, server: await startServer({
      host: args.host,
      port: args.port,
      dataDir,
      token,
      leaseMs: args['lease-ms'],
      leaseRetries: args['lease-retries'],
      ...serverLimits(args),
      ...(trustedBranches(args['trusted-branches']) === undefined ? {} : { trustedBranches: trustedBranches(args['trusted-branches']) }),
      reporter,
      }) };
    });
    process.stdout.write(`Fleet coordinator listening on ${server.server.url} (data in ${dataDir}; token from ${server.origin})\n`);
    const shutdown = (): void => {
      void server.server.close().then(() => process.exit(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  },
};
