import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from './util/errors';
import { EncryptionKey } from './client/encryption';
import { resolveBranch, type Env } from './identity';

/** Where the coordinator is and how to authenticate, for the client side. */
export interface ClientConfig {
  url: string;
  token: string;
  /** The branch cache requests declare (x-fleet-branch); undefined when none is known. */
  branch?: string;
  /** FLEET_ENCRYPTION_KEY, when set: artifacts are end-to-end encrypted with it. */
  encryptionKey?: EncryptionKey;
}

/** The runner options users put in nx.json (`tasksRunnerOptions.default.options`). */
export interface FleetRunnerOptions {
  url?: string;
}

export function readNxJson(workspaceRoot: string): Record<string, unknown> {
  const file = join(workspaceRoot, 'nx.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new FleetError(`cannot read ${file}: ${(error as Error).message}`, 'bad_config');
  }
}

/** The `url` of the nx-fleet runner entry in nx.json, if there is one. */
export function urlFromNxJson(nxJson: Record<string, unknown>): string | undefined {
  const runners = nxJson.tasksRunnerOptions as Record<string, { runner?: string; options?: FleetRunnerOptions }> | undefined;
  for (const entry of Object.values(runners ?? {})) {
    if (entry?.runner === 'nx-fleet' && typeof entry.options?.url === 'string') return entry.options.url;
  }
  const plugins = nxJson.plugins as Array<string | { plugin?: string; options?: FleetRunnerOptions }> | undefined;
  for (const p of plugins ?? []) {
    if (typeof p === 'object' && p.plugin === 'nx-fleet' && typeof p.options?.url === 'string') return p.options.url;
  }
  return undefined;
}

export function validateUrl(raw: string, origin: string): string {
  const url = raw.trim();
  if (/\s/.test(url)) throw new FleetError(`the Fleet URL from ${origin} has a space in it: "${raw}"`, 'bad_config');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FleetError(`the Fleet URL from ${origin} is not a URL: "${url}" (expected e.g. http://fleet.internal:4646)`, 'bad_config');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FleetError(`the Fleet URL from ${origin} must start with http:// or https://: "${url}"`, 'bad_config');
  }
  if (parsed.username || parsed.password) {
    // said without the URL: what is in it may be a password, and messages end up in CI logs
    throw new FleetError(
      `the Fleet URL from ${origin} has a user name or password in it: give it without them (${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}); Fleet authenticates with FLEET_TOKEN`,
      'bad_config',
    );
  }
  return url.replace(/\/+$/, '');
}

/**
 * A setting's value, or undefined when it is absent or blank: CI systems pass an unset
 * variable as an empty string (GitHub's `${{ vars.FLEET_URL }}`), which must not hide the
 * next source.
 */
function given(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * URL: --url, else FLEET_URL, else nx.json (an empty or blank value counts as unset). Token:
 * FLEET_TOKEN (never from a file; empty is unset).
 * Branch: `sources.branch` (the run's, from its marker), else resolveBranch(env).
 * Returns null when nothing is configured; throws when something is but is unusable.
 */
export function resolveClientConfig(
  env: Env,
  sources: { url?: string; workspaceRoot?: string; nxJsonOptions?: FleetRunnerOptions; branch?: string } = {},
): ClientConfig | null {
  const flag = given(sources.url);
  const fromEnv = given(env.FLEET_URL);
  const fromNx = given(sources.nxJsonOptions?.url) ?? (sources.workspaceRoot ? given(urlFromNxJson(readNxJson(sources.workspaceRoot))) : undefined);
  const raw = flag ?? fromEnv ?? fromNx;
  const origin = flag ? '--url' : fromEnv ? 'FLEET_URL' : 'nx.json';
  if (!raw) return null;
  const url = validateUrl(raw, origin);
  const token = given(env.FLEET_TOKEN);
  if (!token) {
    throw new FleetError(`FLEET_TOKEN is not set: set it to the coordinator's token (a CI secret) to use ${url}`, 'bad_config');
  }
  const branch = sources.branch || resolveBranch(env);
  // set but unusable (or empty: a missing CI secret) is an error, never a silent plaintext upload
  const encryptionKey = env.FLEET_ENCRYPTION_KEY === undefined ? undefined : EncryptionKey.parse(env.FLEET_ENCRYPTION_KEY);
  return { url, token, ...(branch ? { branch } : {}), ...(encryptionKey ? { encryptionKey } : {}) };
}

export function requireClientConfig(env: Env, sources: Parameters<typeof resolveClientConfig>[1] = {}): ClientConfig {
  const config = resolveClientConfig(env, sources);
  if (!config) {
    throw new FleetError(
      'no Fleet coordinator configured: pass --url, set FLEET_URL, or run `nx g nx-fleet:init --url=<coordinator>`',
      'bad_config',
    );
  }
  return config;
}
