import { readNxJson } from '../config';
import { classifyNxVersion, readInstalledNxVersion, SUPPORTED_RANGE_TEXT, type NxFrontDoor } from '../nx-version';
import { FleetError } from '../util/errors';

/** How nx.json wires nx-fleet in, if at all. */
export function fleetWiring(nxJson: Record<string, unknown>): { runner: boolean; plugin: boolean } {
  const runners = (nxJson.tasksRunnerOptions ?? {}) as Record<string, { runner?: string }>;
  const runner = Object.values(runners).some((r) => r?.runner === 'nx-fleet');
  const plugins = (nxJson.plugins ?? []) as Array<string | { plugin?: string }>;
  const plugin = plugins.some((p) => (typeof p === 'string' ? p : p?.plugin) === 'nx-fleet');
  return { runner, plugin };
}

/**
 * Checks, before a run starts, that this workspace's Nx will actually reach Fleet: a
 * supported version, and the front door for it configured in nx.json. Throws a message
 * that says what to do.
 */
export function assertFrontDoor(workspaceRoot: string): { version: string; kind: Exclude<NxFrontDoor, 'unsupported'> } {
  const version = readInstalledNxVersion(workspaceRoot);
  if (!version) throw new FleetError(`no Nx found in ${workspaceRoot}: install nx (Fleet supports ${SUPPORTED_RANGE_TEXT})`, 'unsupported_nx');
  const kind = classifyNxVersion(version);
  if (kind.kind === 'unsupported') throw new FleetError(kind.message ?? `Nx ${version} is not supported`, 'unsupported_nx');
  const wiring = fleetWiring(readNxJson(workspaceRoot));
  if (kind.kind === 'plugin' && !wiring.plugin) {
    throw new FleetError(
      wiring.runner
        ? `Nx ${version} ignores the "nx-fleet" tasks runner in nx.json (Nx 21 removed custom runners): ` +
            'run `nx g nx-fleet:init` to switch it to the nx-fleet plugin'
        : `nx.json does not use Fleet: run \`nx g nx-fleet:init --url=<coordinator>\``,
      'not_configured',
    );
  }
  if (kind.kind === 'runner' && !wiring.runner) {
    throw new FleetError('nx.json does not use Fleet: run `nx g nx-fleet:init --url=<coordinator>`', 'not_configured');
  }
  return { version, kind: kind.kind };
}
