/** Coordinator URL checks for `nx g nx-fleet:init`. */

export class FleetUrlError extends Error {
  constructor(
    readonly code: 'MALFORMED_URL' | 'UNREACHABLE' | 'NOT_A_COORDINATOR',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FleetUrlError';
  }
}

/**
 * Parses and normalises a coordinator URL: http(s) only, no credentials (they would end up
 * in nx.json), no query or fragment; a trailing slash is dropped, a path prefix kept.
 */
export function normalizeCoordinatorUrl(raw: unknown): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  let url: URL;
  try {
    url = new URL(text);
  } catch (error: unknown) {
    throw new FleetUrlError('MALFORMED_URL', `"${text}" is not a valid URL. Expected something like https://fleet.example.com`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FleetUrlError('MALFORMED_URL', `"${text}" must start with http:// or https://`);
  }
  if (url.username || url.password) {
    throw new FleetUrlError('MALFORMED_URL', 'The URL must not contain credentials: they would be written to nx.json. Set FLEET_TOKEN instead.');
  }
  if (url.search || url.hash) {
    throw new FleetUrlError('MALFORMED_URL', `"${text}" must not have a query or fragment`);
  }
  return url.toString().replace(/\/+$/, '');
}

export interface HealthzAnswer {
  ok: true;
  [key: string]: unknown;
}

/** GET <url>/healthz must answer JSON `{ ok: true, ... }` within `timeoutMs`. */
export async function verifyCoordinator(url: string, timeoutMs = 5000): Promise<HealthzAnswer> {
  const target = `${url}/healthz`;
  let response: Response;
  try {
    response = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (error: unknown) {
    const cause = error as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    const why =
      cause.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause.cause?.code ?? cause.cause?.message ?? cause.message ?? 'unknown error');
    throw new FleetUrlError('UNREACHABLE', `Cannot reach the Fleet coordinator at ${target} (${why}).`, { cause: error });
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error: unknown) {
    throw new FleetUrlError('NOT_A_COORDINATOR', `${target} answered HTTP ${response.status} without JSON: is this a Fleet coordinator?`, { cause: error });
  }
  if (!response.ok || !body || typeof body !== 'object' || (body as { ok?: unknown }).ok !== true) {
    throw new FleetUrlError('NOT_A_COORDINATOR', `${target} answered HTTP ${response.status} ${JSON.stringify(body).slice(0, 200)}, not { "ok": true }: is this a Fleet coordinator?`);
  }
  return body as HealthzAnswer;
}
