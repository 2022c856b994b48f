import { spawnSync } from 'node:child_process';

/** Runs in a child node: one POST with a bounded time, exit 0 on a 2xx answer. */
const SCRIPT = `
const { FLEET_SYNC_URL: url, FLEET_SYNC_TOKEN: token, FLEET_SYNC_BODY: body } = process.env;
fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(4000) })
  .then((res) => process.exit(res.ok ? 0 : 2), () => process.exit(3));
`;

/**
 * A POST that completes before this function returns, for signal handlers: Nx's own
 * SIGINT/SIGTERM handlers end the process right after ours, so an async request would be
 * lost. Bounded to `timeoutMs`; the token goes through the child's environment, never argv.
 */
export function postSync(url: string, token: string, body: unknown, timeoutMs = 5_000): boolean {
  const result = spawnSync(process.execPath, ['-e', SCRIPT], {
    env: { PATH: process.env.PATH ?? '', FLEET_SYNC_URL: url, FLEET_SYNC_TOKEN: token, FLEET_SYNC_BODY: JSON.stringify(body) },
    timeout: timeoutMs,
    stdio: 'ignore',
  });
  return result.status === 0;
}
