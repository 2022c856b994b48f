import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `start-ci-run` leaves this in `.fleet/` of the main job's workspace; while it is there,
 * `nx` commands in that workspace are distributed. `stop-all-agents` removes it.
 */
export interface RunMarker {
  runId: string;
  url: string;
  createdAt: number;
  stopAgentsOnFailure: boolean;
  /** The run's branch (start-ci-run --branch, else from the CI variables): main's cache requests carry it. */
  branch?: string;
  /** The main job's heartbeat process (start-ci-run leaves it running; stop-all-agents ends it). */
  heartbeatPid?: number;
}

export function fleetDir(workspaceRoot: string): string {
  return join(workspaceRoot, '.fleet');
}

function markerFile(workspaceRoot: string): string {
  return join(fleetDir(workspaceRoot), 'ci-run.json');
}

export function writeRunMarker(workspaceRoot: string, marker: RunMarker): void {
  mkdirSync(fleetDir(workspaceRoot), { recursive: true });
  writeFileSync(markerFile(workspaceRoot), JSON.stringify(marker, null, 2));
}

export function readRunMarker(workspaceRoot: string): RunMarker | null {
  const file = markerFile(workspaceRoot);
  if (!existsSync(file)) return null;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as RunMarker;
    return typeof value.runId === 'string' && typeof value.url === 'string' ? value : null;
  } catch {
    return null; // a damaged marker means no active run; start-ci-run rewrites it
  }
}

export function removeRunMarker(workspaceRoot: string): void {
  rmSync(markerFile(workspaceRoot), { force: true });
}
