import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientConfig } from '../config';
import { fleetDir } from '../run-marker';
import { CLI_SCRIPT } from '../util/cli-script';


/**
 * Starts `nx-fleet internal-heartbeat` detached from start-ci-run, so that it outlives the
 * command and beats for the rest of the CI job (CI providers kill what a job leaves running
 * when the job ends). Its output goes to `.fleet/heartbeat.log`. Returns its pid.
 */
export function spawnMainHeartbeat(workspaceRoot: string, runId: string, config: ClientConfig): number {
  mkdirSync(fleetDir(workspaceRoot), { recursive: true });
  const log = openSync(join(fleetDir(workspaceRoot), 'heartbeat.log'), 'a');
  try {
    const child = spawn(process.execPath, [CLI_SCRIPT, 'internal-heartbeat', '--run-id', runId, '--workspace', workspaceRoot], {
      detached: true,
      stdio: ['ignore', log, log],
      // the token travels in the environment, never on the command line (ps shows that)
      env: { ...process.env, FLEET_URL: config.url, FLEET_TOKEN: config.token },
      cwd: workspaceRoot,
    });
    child.unref();
    if (child.pid === undefined) throw new Error('the heartbeat process did not start');
    return child.pid;
  } finally {
    closeSync(log);
  }
}
