import { FleetClient } from '../client/fleet-client';
import { retryPolicyFromEnv } from '../client/retry';
import { requireClientConfig, type ClientConfig } from '../config';
import { resolveRunId } from '../identity';
import { streamReporter, type Reporter } from '../reporter';
import { FleetError } from '../util/errors';
import { findWorkspaceRootFrom } from './workspace';

export interface CommonArgs {
  url?: string;
  verbose?: boolean;
}

export interface CliContext {
  workspaceRoot: string;
  reporter: Reporter;
  client: FleetClient;
  /** The coordinator URL and token the client uses (for processes the command starts). */
  config: ClientConfig;
  runId: string;
}

/** What every command that talks to the coordinator needs: the workspace, the reporter and the client. */
export function clientContext(args: CommonArgs, env: NodeJS.ProcessEnv = process.env): Omit<CliContext, 'runId'> {
  const workspaceRoot = findWorkspaceRootFrom(process.cwd());
  const reporter = streamReporter(process.stderr, { verbose: args.verbose || env.FLEET_VERBOSE === 'true' });
  const config = requireClientConfig(env, { url: args.url, workspaceRoot });
  const client = new FleetClient({ ...config, retry: retryPolicyFromEnv(env) });
  return { workspaceRoot, reporter, client, config };
}

/** What every run command needs: the workspace, the coordinator and the run id. */
export function cliContext(args: CommonArgs, env: NodeJS.ProcessEnv = process.env): CliContext {
  const context = clientContext(args, env);
  const identity = resolveRunId(env);
  if (!identity) {
    throw new FleetError(
      'no run id: set FLEET_RUN_ID (the same value on the main job and on every agent), ' +
        'or run inside GitHub Actions, CircleCI, Azure Pipelines, GitLab CI or Bitbucket Pipelines',
      'bad_config',
    );
  }
  return { ...context, runId: identity.runId };
}
