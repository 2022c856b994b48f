/**
 * nx-fleet: self-hosted distributed task execution for Nx.
 * The default export is the tasks runner (Nx 19–20: `tasksRunnerOptions.default.runner`).
 */
import { fleetTasksRunner } from './runner/tasks-runner';

export default fleetTasksRunner;
export { fleetTasksRunner };
/** Nx 21+: nx-fleet is an Nx plugin (`plugins: [{ plugin: "nx-fleet", options: { url } }]`). */
export const name = 'nx-fleet';
export { preTasksExecution, postTasksExecution } from './plugin/hooks';
export { FleetClient } from './client/fleet-client';
export type { Reporter } from './reporter';
