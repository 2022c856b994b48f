import { request, type Dispatcher } from 'undici';
import { Value } from '@sinclair/typebox/value';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { FleetError } from '../util/errors';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from './retry';

export interface HttpOptions {
  retry?: RetryPolicy;
  timeoutMs?: number;
  /** Retry a 404 too (an agent may start before main has created the run). */
  retryOn404?: boolean;
  /** Statuses that are an answer, not an error (returned as `{ status }`). */
  okStatuses?: number[];
  /** Aborts the request (and stops retrying). */
  signal?: AbortSignal;
}

export class CoordinatorHttpError extends FleetError {
  constructor(
    message: string,
    readonly status: number,
    readonly serverCode: string | undefined,
  ) {
    super(message, serverCode ?? `http_${status}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a failed attempt is worth repeating. 401/403 and other 4xx never are, nor TLS or URL errors. */
function retryable(error: unknown, retryOn404: boolean): boolean {
  if (error instanceof CoordinatorHttpError) {
    if (error.status === 404) return retryOn404;
    return error.status === 408 || error.status === 429 || error.status >= 500;
  }
  // an answer that makes no sense now will make none later
  if (error instanceof FleetError && error.code === 'protocol_mismatch') return false;
  const code = String((error as { code?: unknown }).code ?? '');
  if (error instanceof TypeError || code === 'ERR_INVALID_URL' || code === 'EPROTO' || /^ERR_(SSL|TLS)/.test(code)) return false;
  return true; // connection refused, reset, time-out, DNS
}

/** The first line of an error's message (TLS errors carry a whole OpenSSL dump). */
function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message || String((error as { code?: unknown }).code ?? error.name) : String(error);
  return text.split('\n')[0].trim();
}

/**
 * JSON over HTTP to the coordinator, with bearer auth, a per-request time-out and
 * bounded retries. The token is never part of an error message.
 */
export class JsonHttp {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly defaults: { retry: RetryPolicy; timeoutMs: number } = { retry: DEFAULT_RETRY, timeoutMs: 10_000 },
  ) {}

  url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async withRetry<T>(what: string, options: HttpOptions, attempt: () => Promise<T>): Promise<T> {
    const policy = options.retry ?? this.defaults.retry;
    const started = Date.now();
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        const elapsed = Date.now() - started;
        const delay = backoffDelay(policy, n, Math.random);
        const out = n >= policy.maxAttempts || elapsed + delay > policy.maxTotalMs || options.signal?.aborted === true;
        if (out || !retryable(error, options.retryOn404 ?? false)) {
          if (error instanceof CoordinatorHttpError) throw error;
          const reason = reasonOf(error);
          throw new FleetError(
            `cannot reach the Fleet coordinator at ${this.baseUrl} (${what}): ${reason}` +
              (n > 1 ? ` — gave up after ${n} attempts in ${Math.round(elapsed / 1000)} s` : ''),
            'unreachable',
            { cause: error },
          );
        }
        await sleep(delay);
      }
    }
  }

  /** A request whose answer has no body (204). */
  async send(method: Dispatcher.HttpMethod, path: string, body?: unknown, options: HttpOptions = {}): Promise<void> {
    await this.call(method, path, Type.Any(), body, options);
  }

  /** One JSON request; the answer is checked against `schema`. */
  async call<S extends TSchema>(
    method: Dispatcher.HttpMethod,
    path: string,
    schema: S,
    body?: unknown,
    options: HttpOptions = {},
  ): Promise<Static<S>> {
    const timeoutMs = options.timeoutMs ?? this.defaults.timeoutMs;
    return this.withRetry(`${method} ${path}`, options, async () => {
      const res = await request(this.url(path), {
        method,
        headers: {
          ...this.authHeaders(),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: options.signal,
      });
      const text = await res.body.text();
      if (res.statusCode >= 400 && !(options.okStatuses ?? []).includes(res.statusCode)) {
        throw httpError(this.baseUrl, method, path, res.statusCode, text);
      }
      const parsed: unknown = text === '' ? undefined : JSON.parse(text);
      if (!Value.Check(schema, parsed)) {
        const first = [...Value.Errors(schema, parsed)][0];
        throw new FleetError(
          `the coordinator at ${this.baseUrl} answered ${method} ${path} with an unexpected body` +
            (first ? ` (${first.path || '/'}: ${first.message})` : '') +
            ' — is it the same Fleet version as this client?',
          'protocol_mismatch',
        );
      }
      return parsed as Static<S>;
    });
  }
}

export function httpError(baseUrl: string, method: string, path: string, status: number, text: string): CoordinatorHttpError {
  let code: string | undefined;
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    code = body.code;
    message = body.message ?? message;
  } catch {
    // not JSON: keep the raw text
  }
  const hint =
    status === 401
      ? ' — check FLEET_TOKEN'
      : status === 403
        ? ' — this token may not do that'
        : status === 404 && /^\/v1\/runs\/[^/]+/.test(path) && code === 'not_found' && !message.startsWith('no route')
          ? ' — was the run opened by `nx-fleet start-ci-run` with the same run id?'
          : status === 404 && (code === undefined || message.startsWith('no route'))
            ? ' — is this the URL of a Fleet coordinator?'
            : '';
  return new CoordinatorHttpError(
    `the Fleet coordinator at ${baseUrl} refused ${method} ${path}: ${status} ${message}${hint}`,
    status,
    code,
  );
}
