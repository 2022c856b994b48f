import { resolve } from 'node:path';

/**
 * The environment that makes failed results from agents replay on main: the preload in
 * every task process, and run-commands tasks in a process of their own (Nx otherwise runs
 * them inside its own process, where the preload cannot act).
 */
export function preloadEnv(replayDir: string, current = process.env.NODE_OPTIONS): Record<string, string> {
  const preload = resolve(__dirname, '../replay/preload.js');
  const flag = `--require ${JSON.stringify(preload)}`;
  return {
    NODE_OPTIONS: current && current.trim() ? `${current} ${flag}` : flag,
    FLEET_REPLAY_DIR: replayDir,
    NX_RUN_COMMANDS_DIRECTLY: 'false',
  };
}
