import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Outer variables worth keeping; everything else (NX_*, FLEET_*, npm_*, the jest worker's own) is dropped. */
const KEPT = ['PATH', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL', 'SHELL'] as const;

/** The npm cache of the real user, so installs inside a test reuse what is already downloaded. */
export function realNpmCache(outer: NodeJS.ProcessEnv = process.env): string {
  return outer.npm_config_cache ?? join(homedir(), '.npm');
}

/**
 * A minimal environment built from a few outer variables plus `overrides`.
 * An override of `undefined` removes the variable.
 */
export function baseEnv(overrides: Record<string, string | undefined> = {}, outer: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of KEPT) {
    const value = outer[key];
    if (value !== undefined) env[key] = value;
  }
  env.FORCE_COLOR = '0';
  env.NO_COLOR = '1';
  env.npm_config_cache = realNpmCache(outer);
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * A clean environment for running Nx in a test workspace: HOME=<ws>/.home (created), no daemon, no TUI,
 * no cloud, CI=true, caches inside the workspace, and no NX_* / FLEET_* inherited from outside.
 * Pass `{ NX_WORKSPACE_DATA_DIRECTORY: ... }` or `{ FLEET_MARKER_ID: ... }` etc. in `extra`;
 * `undefined` removes a variable.
 */
export function isolatedEnv(workspaceDir: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const home = join(workspaceDir, '.home');
  mkdirSync(home, { recursive: true });
  return baseEnv({
    HOME: home,
    NX_DAEMON: 'false',
    NX_TUI: 'false',
    NX_NO_CLOUD: 'true',
    CI: 'true',
    NX_CACHE_DIRECTORY: join(workspaceDir, '.nx', 'cache'),
    NX_NATIVE_FILE_CACHE_DIRECTORY: join(home, '.nx-native'),
    ...extra,
  });
}
