/**
 * Hostile input (issue 7): a bounded fuzz of a real coordinator on loopback.
 *
 * At least 10,000 generated requests (fuzz-requests.ts: mutated bodies, malformed JSON,
 * wrong content types, junk paths, params, queries, methods and headers, broken HTTP
 * framing on raw sockets) go to a coordinator listening on 127.0.0.1:0, 16 in flight,
 * each with a time-out. The run passes when:
 *   - no answer has a status of 500 or more, except 503 `busy` to a PUT /v1/cache of a
 *     key another request of the fuzz is uploading at that moment (the documented answer
 *     to concurrent uploads of one key; the client retries);
 *   - every 4xx carries a JSON body `{ code, message }` that the protocol's ErrorBody
 *     schema accepts, with a non-empty message (HEAD answers have no body by HTTP's rules);
 *   - every request is answered, except those that broke HTTP so badly the server may just
 *     close the connection (a request cut off mid-way, random bytes, a TLS hello; marked by the generator);
 *   - no request blocks the event loop for more than STALL_MS, and the whole fuzz ends within FUZZ_DEADLINE_MS;
 *   - the server still answers GET /healthz and a real request at the end, and its
 *     reporter recorded no 'request failed' (the error handler's line for a 500).
 *
 * Reproduce: FLEET_FUZZ_SEED=<seed> [FLEET_FUZZ_COUNT=<n>] npx jest --selectProjects unit --testPathPattern fuzz.spec
 * (failures print the seed, the index and the request; `generateRequest(seed, index, world)` rebuilds one).
 * To narrow one down: FLEET_FUZZ_FROM=<index> FLEET_FUZZ_IN_FLIGHT=1 FLEET_FUZZ_TRACE=/tmp/trace.log (one line per
 * request sent and answered, and the summary). The default seed is fixed so CI runs are repeatable.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import {
  ALL_SCHEMAS,
  compileChecker,
  ERROR_CODES,
  ErrorBody,
  ROUTES,
  type RouteName,
  type TSchema,
} from '@fleet/protocol';
import * as protocol from '@fleet/protocol';
import { describeRequest, generateRequest, type FuzzRequest, type FuzzWorld } from './fuzz-requests';
import { startServer, type RunningServer } from './main';
import type { Reporter } from './reporter';
import { createHarness, type Harness } from './testing/harness';

const SEED = process.env.FLEET_FUZZ_SEED !== undefined ? Number(process.env.FLEET_FUZZ_SEED) : 20_250_107;
const COUNT = process.env.FLEET_FUZZ_COUNT !== undefined ? Number(process.env.FLEET_FUZZ_COUNT) : 10_000;
/** FLEET_FUZZ_FROM replays from that index on (with the same seed); FLEET_FUZZ_IN_FLIGHT=1 sends them one by one. */
const FROM = process.env.FLEET_FUZZ_FROM !== undefined ? Number(process.env.FLEET_FUZZ_FROM) : 0;
const IN_FLIGHT = process.env.FLEET_FUZZ_IN_FLIGHT !== undefined ? Number(process.env.FLEET_FUZZ_IN_FLIGHT) : 16;
/** A file that gets one line per request sent and answered (to find the request that hung the server). */
const TRACE = process.env.FLEET_FUZZ_TRACE;
const REQUEST_TIMEOUT_MS = 15_000;
const FUZZ_DEADLINE_MS = 150_000;
/** Longer than this without a turn of the event loop fails the fuzz (the server is blocked). */
const STALL_MS = 3000;
const TOKEN = 'fuzz-admin-token-0123456789';
const MAX_ARTIFACT_BYTES = 256 * 1024;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}
type Outcome = Answer | { readonly error: string };

const isError = (o: Outcome): o is { error: string } => 'error' in o;

/* ---------------------------------------------------------------- transports */

/** One request on a fresh socket, bytes as given; the first answer is parsed by hand. */
function sendRaw(port: number, bytes: Buffer, options: { halfClose?: boolean; head?: boolean } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish(parse(true) ?? { error: `no answer within ${REQUEST_TIMEOUT_MS} ms` }), REQUEST_TIMEOUT_MS);
    const parse = (closed: boolean): Outcome | null => {
      let rest = data;
      for (;;) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) return closed && rest.length > 0 ? { error: `an incomplete answer: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}` } : null;
        const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
        if (status === null) return { error: `not an HTTP answer: ${JSON.stringify(lines[0])}` };
        const code = Number(status[1]);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const body = rest.subarray(end + 4);
        if (code >= 100 && code < 200) {
          rest = body; // 100 Continue: the real answer follows
          continue;
        }
        if (options.head === true || code === 204 || code === 304) return { status: code, headers, body: Buffer.alloc(0) };
        const length = headers['content-length'];
        if (length !== undefined) {
          if (body.length >= Number(length)) return { status: code, headers, body: body.subarray(0, Number(length)) };
          return closed ? { status: code, headers, body } : null;
        }
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
          const decoded = dechunk(body);
          if (decoded !== null) return { status: code, headers, body: decoded };
          return closed ? { status: code, headers, body } : null;
        }
        return closed ? { status: code, headers, body } : null;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const outcome = parse(false);
      if (outcome !== null) finish(outcome);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(parse(true) ?? { error: 'the server closed the connection without an answer' }));
    socket.write(bytes, () => {
      if (options.halfClose === true) socket.end();
    });
  });
}

function dechunk(body: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    if (body.length < eol + 2 + size + 2) return null;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** What a request undici refuses to send (invalid characters) becomes on a raw socket. */
function asRawBytes(request: FuzzRequest): Buffer {
  const head = [`${request.method} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(request.headers)) head.push(`${name}: ${value}`);
  if (request.body !== undefined) head.push(`Content-Length: ${request.body.length}`);
  head.push('Connection: close', '', '');
  return Buffer.concat([Buffer.from(head.join('\r\n'), 'latin1'), request.body ?? Buffer.alloc(0)]);
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNDICI_OWN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'connection', 'expect']);

/**
 * Whether undici would refuse the request (undici's own checks, lib/core/request.js). Such
 * requests go on a raw socket instead: a request undici refuses inside a Pool can leave the
 * pool waiting for a 'drain' that never comes, with every later request queued for ever
 * (their AbortSignals do not end a request that was never dispatched).
 */
function undiciRefuses(request: FuzzRequest): boolean {
  if (!request.path.startsWith('/') || /[^\u0021-\u00ff]/.test(request.path)) return true;
  if (!TOKEN_CHARS.test(request.method)) return true;
  return Object.entries(request.headers).some(
    ([name, value]) =>
      !TOKEN_CHARS.test(name) || UNDICI_OWN_HEADERS.has(name.toLowerCase()) || /[^\t\x20-\x7e\x80-\xff]/.test(value) || /^[\t ]|[\t ]$/.test(value),
  );
}

async function send(pool: Pool, port: number, request: FuzzRequest): Promise<Outcome & { via: string }> {
  const head = request.method === 'HEAD';
  if (request.raw !== undefined) {
    return { ...(await sendRaw(port, request.raw, { halfClose: request.halfClose, head })), via: 'raw' };
  }
  if (undiciRefuses(request)) return { ...(await sendRaw(port, asRawBytes(request), { head })), via: 'raw (undici would refuse it)' };
  try {
    const res = await pool.request({
      method: request.method as Dispatcher.HttpMethod,
      path: request.path,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body, via: 'undici' };
  } catch (error) {
    if (error instanceof undiciErrors.InvalidArgumentError || (error as { code?: string }).code === 'UND_ERR_INVALID_ARG') {
      // a gap in undiciRefuses: the pool may now be wedged (see there), so say so rather than hang
      return { error: `undici refused the request (${(error as Error).message}); extend undiciRefuses`, via: 'undici' };
    }
    return { error: `${(error as Error).name}: ${(error as Error).message}`, via: 'undici' };
  }
}

/* ---------------------------------------------------------------- judging */

const errorBody = compileChecker(ErrorBody, { label: 'answer' });

/** null when the answer is acceptable, else what is wrong with it. */
function judge(request: FuzzRequest, outcome: Outcome): string | null {
  if ('error' in outcome) return request.mayGoUnanswered === true ? null : `no answer: ${outcome.error}`;
  const { status, body } = outcome;
  if (status >= 500) {
    if (status === 503 && request.method === 'PUT' && request.path.startsWith('/v1/cache/') && parseCode(body) === 'busy') return null;
    return `status ${status}`;
  }
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected status ${status}`;
  if (status >= 400) {
    if (request.method === 'HEAD') return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return `status ${status} without a JSON body`;
    }
    const checked = errorBody.check(parsed);
    if (!checked.ok) return `status ${status} with a body that is not an ErrorBody (${checked.message})`;
    if (!ERROR_CODES.includes(checked.value.code)) return `status ${status} with an unknown code ${checked.value.code}`;
    if (checked.value.message.trim() === '') return `status ${status} with an empty message`;
  }
  return null;
}

function parseCode(body: Buffer): string | null {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : null;
  } catch {
    return null;
  }
}

function describeOutcome(outcome: Outcome & { via: string }): string {
  if (isError(outcome)) return `  answer (${outcome.via}): ${outcome.error}`;
  const text = outcome.body.toString('utf8');
  return `  answer (${outcome.via}): ${outcome.status} ${JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}…` : text)}`;
}

/* ---------------------------------------------------------------- the world */

interface Reported {
  level: string;
  message: string;
  fields?: Readonly<Record<string, unknown>>;
}

function collectingReporter(into: Reported[]): Reporter {
  return {
    info: (message, fields) => into.push({ level: 'info', message, fields }),
    warn: (message, fields) => into.push({ level: 'warn', message, fields }),
    error: (message, fields) => into.push({ level: 'error', message, fields }),
  };
}

async function json(pool: Pool, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
  const res = await pool.request({
    method: method as Dispatcher.HttpMethod,
    path,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? null : JSON.parse(text) };
}

/** Runs, agents, executions, leases and artifacts that exist, so that some ids hit. */
async function createWorld(pool: Pool): Promise<FuzzWorld> {
  const runIds: string[] = [];
  const executionIds: string[] = [];
  const leaseIds: string[] = [];
  const taskIds: string[] = [];
  const hashes: string[] = [];
  const agentNames = ['fuzz-agent-1', 'fuzz-agent-2'];
  for (let i = 1; i <= 3; i++) {
    const runId = `fuzz-run-${i}`;
    expect((await json(pool, 'POST', '/v1/runs', { runId, agents: 2, mainTimeoutMs: 3_600_000 })).status).toBe(200);
    for (const agentName of agentNames) {
      expect((await json(pool, 'POST', `/v1/runs/${runId}/agents`, { agentName, parallel: 2 })).status).toBe(200);
    }
    const executionId = `fuzz-exec-${i}`;
    const tasks = ['a', 'b', 'c'].map((p, j) => ({
      id: `${p}${i}:build`,
      project: `${p}${i}`,
      target: 'build',
      hash: `${i}${j}0000${i}`,
      deps: j === 0 ? [] : [`a${i}:build`],
    }));
    const created = await json(pool, 'POST', `/v1/runs/${runId}/executions`, { executionId, command: 'nx run-many -t build', tasks });
    expect(created.status).toBe(200);
    const leased = await json(pool, 'POST', `/v1/runs/${runId}/lease`, { agentName: agentNames[0], waitMs: 0 });
    expect(leased.status).toBe(200);
    expect(leased.body.action).toBe('run');
    runIds.push(runId);
    executionIds.push(executionId);
    leaseIds.push(leased.body.task.leaseId as string);
    taskIds.push(...tasks.map((t) => t.id));
    hashes.push(...tasks.map((t) => t.hash));
    const artifact = Buffer.from(`artifact ${i}`);
    const stored = `9${i}${i}${i}`;
    const put = await pool.request({
      method: 'PUT',
      path: `/v1/cache/${stored}`,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/octet-stream',
        'x-fleet-sha256': createHash('sha256').update(artifact).digest('hex'),
      },
      body: artifact,
    });
    await put.body.dump();
    expect(put.statusCode).toBe(200);
    hashes.push(stored);
  }
  return { token: TOKEN, runIds, executionIds, leaseIds, hashes, agentNames, taskIds, maxArtifactBytes: MAX_ARTIFACT_BYTES };
}

/* ---------------------------------------------------------------- the fuzz */

describe('fuzz: hostile requests against a coordinator on loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-fuzz-'));
  const reported: Reported[] = [];
  let server: RunningServer;
  let pool: Pool;
  let port: number;

  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: dir,
      token: TOKEN,
      maxArtifactBytes: MAX_ARTIFACT_BYTES,
      reporter: collectingReporter(reported),
    });
    port = Number(new URL(server.url).port);
    pool = new Pool(server.url, { connections: IN_FLIGHT, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: 2000 });
  });

  afterAll(async () => {
    await pool?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${COUNT} generated requests (seed ${SEED}) with no 5xx, no crash, and { code, message } on every 4xx`, async () => {
    expect(Number.isInteger(SEED) && Number.isInteger(COUNT) && COUNT > 0).toBe(true);
    const world = await createWorld(pool);
    const failures: string[] = [];
    let failed = 0;
    let busy = 0;
    let unanswered = 0;
    const statuses = new Map<string, number>();
    const kinds = new Map<string, number>();
    let validationMessages = 0;
    let next = FROM;
    const started = Date.now();

    const inFlight = new Map<number, FuzzRequest>();
    async function worker(): Promise<void> {
      while (next < COUNT) {
        const index = next++;
        const request = generateRequest(SEED, index, world);
        inFlight.set(index, request);
        if (TRACE !== undefined) appendFileSync(TRACE, `> #${index} ${describeRequest(request)}\n`);
        const outcome = await send(pool, port, request);
        if (TRACE !== undefined) appendFileSync(TRACE, `< #${index} ${describeOutcome(outcome)}\n`);
        inFlight.delete(index);
        const kind = request.kind.split(':')[0] as string;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const key = isError(outcome) ? 'none' : String(outcome.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (isError(outcome)) unanswered++;
        else if (outcome.status === 503) busy++;
        else if (outcome.status === 400 && /^(body|params|querystring)[.:]/.test(String(parseCode(outcome.body) === 'bad_request' ? JSON.parse(outcome.body.toString('utf8')).message : ''))) validationMessages++;
        const problem = judge(request, outcome);
        if (problem !== null) {
          failed++;
          if (failures.length < 15) failures.push(`#${index} (seed ${SEED}): ${problem}\n${describeRequest(request)}\n${describeOutcome(outcome)}`);
        }
      }
    }
    // a request that blocks the event loop (server and client share this process) is a denial of service
    const stalls: string[] = [];
    let tick = Date.now();
    const lagMonitor = setInterval(() => {
      const now = Date.now();
      if (now - tick > STALL_MS && stalls.length < 5) {
        stalls.push(`the event loop was blocked for ${now - tick} ms with in flight:\n${[...inFlight].map(([index, request]) => `#${index}: ${describeRequest(request)}`).join('\n')}`);
      }
      tick = now;
    }, 100);
    // the whole fuzz is bounded too: a request that hangs past every time-out fails the test with its description
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(Array.from({ length: IN_FLIGHT }, () => worker())),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => {
          const stuck = [...inFlight].map(([index, request]) => `#${index}: ${describeRequest(request)}`);
          reject(new Error(`the fuzz (seed ${SEED}) did not end within ${FUZZ_DEADLINE_MS} ms; ${next} requests started; in flight:\n${stuck.join('\n')}\n\n${stalls.join('\n\n')}`));
        }, FUZZ_DEADLINE_MS);
      }),
    ]).finally(() => {
      clearTimeout(deadline);
      clearInterval(lagMonitor);
    });
    if (stalls.length > 0) throw new Error(`seed ${SEED}: ${stalls.join('\n\n')}`);
    const elapsedMs = Date.now() - started;

    const summary =
      `seed ${SEED}, ${COUNT} requests in ${elapsedMs} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
      `kinds ${JSON.stringify(Object.fromEntries([...kinds].sort()))}; 503 busy ${busy}; unanswered (allowed) ${unanswered}`;
    if (TRACE !== undefined) appendFileSync(TRACE, `summary: ${summary}\n`);
    if (failed > 0) {
      throw new Error(`${failed} of ${COUNT} answers were wrong (${summary}); reproduce with FLEET_FUZZ_SEED=${SEED} FLEET_FUZZ_COUNT=${COUNT}\n\n${failures.join('\n\n')}`);
    }

    // the server survived: health, and a real request through auth, validation and the store
    const health = await pool.request({ method: 'GET', path: '/healthz' });
    expect({ status: health.statusCode, body: await health.body.json() }).toEqual({ status: 200, body: expect.objectContaining({ ok: true }) });
    expect((await json(pool, 'GET', `/v1/runs/${world.runIds[0]}`)).status).toBe(200);
    const fresh = await json(pool, 'POST', '/v1/runs', { runId: `fuzz-after-${SEED}` });
    expect(fresh.status).toBe(200);

    const errors = reported.filter((r) => r.level === 'error');
    const requestFailed = errors.filter((r) => r.message === 'request failed');
    if (requestFailed.length > 0) {
      throw new Error(`the server reported ${requestFailed.length} failed requests (${summary}):\n${requestFailed.slice(0, 10).map((r) => JSON.stringify(r.fields).slice(0, 2000)).join('\n')}`);
    }
    // the fuzz reached validation rather than bouncing off auth or the router
    const sent = COUNT - FROM;
    expect({ validationMessages: validationMessages > sent / 10, summary }).toEqual({ validationMessages: true, summary });
    expect({ mostlyAuthenticated: (statuses.get('401') ?? 0) < sent / 4, summary }).toEqual({ mostlyAuthenticated: true, summary });
  }, 180_000);
});

/* ---------------------------------------------------------------- strict schemas */

/** Every object in `schema` (nested too) and where it is, with its additionalProperties. */
function objectsOf(schema: TSchema, at: string, out: { at: string; additionalProperties: unknown }[] = []): typeof out {
  const s = schema as Record<string, unknown>;
  if (s.type === 'object') {
    out.push({ at, additionalProperties: s.additionalProperties });
    for (const [key, value] of Object.entries((s.properties ?? {}) as Record<string, TSchema>)) objectsOf(value, `${at}.${key}`, out);
  }
  if (s.items !== undefined) objectsOf(s.items as TSchema, `${at}[]`, out);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[key] as TSchema[] | undefined;
    list?.forEach((item, i) => objectsOf(item, `${at}|${key}${i}`, out));
  }
  return out;
}

const REQUEST_SCHEMAS: Record<string, TSchema> = {
  ...Object.fromEntries(Object.entries(ALL_SCHEMAS).filter(([name]) => /(Request|Query)$/.test(name))),
  ...Object.fromEntries(Object.entries(protocol).filter(([name, value]) => /Params$/.test(name) && typeof value === 'object' && value !== null && 'type' in value)),
} as Record<string, TSchema>;

describe('request schemas are strict', () => {
  it('the request, query and params schemas are the ones the routes validate with', () => {
    expect(Object.keys(REQUEST_SCHEMAS).sort()).toEqual(
      expect.arrayContaining([
        'CacheParams',
        'CompleteLeaseRequest',
        'CompleteRunRequest',
        'CreateExecutionRequest',
        'CreateRunRequest',
        'CreateTokenRequest',
        'ExecutionParams',
        'FinishExecutionRequest',
        'JoinRunRequest',
        'LeaseHeartbeatRequest',
        'LeaseParams',
        'LeaseRequest',
        'ReleaseLeaseRequest',
        'ReportHashRequest',
        'RunParams',
        'TokenParams',
        'WatchExecutionQuery',
      ]),
    );
  });

  it.each(Object.keys(REQUEST_SCHEMAS))('%s sets additionalProperties: false on every object', (name) => {
    const objects = objectsOf(REQUEST_SCHEMAS[name] as TSchema, name);
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.filter((o) => o.additionalProperties !== false)).toEqual([]);
  });

  describe('the real app answers 400 to an unknown field', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    const VALID_BODIES: Partial<Record<RouteName, Record<string, unknown>>> = {
      createRun: { runId: 'strict-run' },
      completeRun: { reason: 'x' },
      joinRun: { agentName: 'a1', parallel: 1 },
      lease: { agentName: 'a1', waitMs: 0 },
      createExecution: { executionId: 'e1', command: 'nx', tasks: [{ id: 'p:t', project: 'p', target: 't', hash: null, deps: [] }] },
      reportHash: { taskId: 'p:t', hash: '1' },
      finishExecution: { status: 'succeeded' },
      heartbeatLease: { agentName: 'a1' },
      completeLease: { agentName: 'a1', hash: '1', exitCode: 0, durationMs: 1 },
      releaseLease: { agentName: 'a1' },
      createToken: { scope: 'read-only' },
    };
    const PARAMS: Record<string, string> = { runId: 'strict-run', executionId: 'e1', leaseId: 'l1', hash: '1', tokenId: 'tok_abcdefgh' };
    const pathOf = (name: RouteName): string => ROUTES[name].url.replace(/:([A-Za-z]+)/g, (_, key: string) => PARAMS[key] ?? 'x');

    it.each(Object.keys(VALID_BODIES) as RouteName[])('%s: a body field the schema does not know', async (name) => {
      const route = ROUTES[name];
      if (!h.app.hasRoute({ method: route.method, url: route.url })) {
        // the token routes arrive with the token model; until then there is nothing to check
        expect(name).toMatch(/Token/);
        return;
      }
      const res = await h.call(route.method, pathOf(name), { ...VALID_BODIES[name], unknownField: 1 });
      expect({ status: res.statusCode, body: res.json() }).toEqual({
        status: 400,
        body: { code: 'bad_request', message: expect.stringContaining('body.unknownField') },
      });
    });

    it('nested objects too: an unknown field in a plan task', async () => {
      const body = { executionId: 'e1', command: 'nx', tasks: [{ id: 'p:t', project: 'p', target: 't', hash: null, deps: [], unknownField: 1 }] };
      const res = await h.call('POST', pathOf('createExecution'), body);
      expect({ status: res.statusCode, body: res.json() }).toEqual({
        status: 400,
        body: { code: 'bad_request', message: expect.stringContaining('unknownField') },
      });
    });

    it('a query parameter the schema does not know', async () => {
      const res = await h.call('GET', `${pathOf('getExecution')}?waitMs=0&unknownField=1`);
      expect({ status: res.statusCode, body: res.json() }).toEqual({
        status: 400,
        body: { code: 'bad_request', message: expect.stringContaining('querystring.unknownField') },
      });
    });
  });
});

/* ---------------------------------------------------------------- what the fuzz found (regressions) */

describe('answers the fuzz once got wrong', () => {
  let h: Harness;
  let hPort: number;
  beforeAll(async () => {
    h = await createHarness();
    hPort = Number(new URL(h.url).port);
  });
  afterAll(async () => {
    await h.close();
  });
  const raw = async (text: string): Promise<{ status: number; body: unknown }> => {
    const outcome = await sendRaw(hPort, Buffer.from(text, 'latin1'));
    if ('error' in outcome) throw new Error(outcome.error);
    return { status: outcome.status, body: outcome.body.length > 0 ? JSON.parse(outcome.body.toString('utf8')) : null };
  };
  const fleetError = (status: number, message: RegExp) => ({ status, body: { code: 'bad_request', message: expect.stringMatching(message) } });

  it('what Node\'s HTTP parser refuses is answered in Fleet\'s error shape (fastify\'s default was { error, message, statusCode })', async () => {
    expect(await raw('FOO /v1/runs/x HTTP/1.1\r\nHost: x\r\n\r\n')).toEqual(fleetError(400, /malformed HTTP request/));
    expect(await raw('PUT /v1/cache/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!')).toEqual(fleetError(400, /malformed HTTP request/));
    expect(await raw(`GET /v1/runs/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toEqual(fleetError(431, /exceed the limit/));
  });

  it('a parser error closes the connection (Connection: close), so a keep-alive client does not reuse a dead socket', async () => {
    const outcome = await sendRaw(hPort, Buffer.from('FOO / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect('error' in outcome ? outcome.error : outcome.headers['connection']).toBe('close');
  });

  it('an unknown Expect is 417 and CONNECT is 405, both with { code, message }; a request without Host is answered', async () => {
    expect(await raw('PUT /v1/cache/1 HTTP/1.1\r\nHost: x\r\nExpect: junk\r\nContent-Length: 1\r\n\r\nx')).toEqual(fleetError(417, /Expect/));
    expect(await raw('CONNECT evil:443 HTTP/1.1\r\nHost: evil:443\r\n\r\n')).toEqual(fleetError(405, /CONNECT/));
    expect(await raw('GET /v1/runs/x HTTP/1.1\r\nConnection: close\r\n\r\n')).toEqual({ status: 401, body: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('ids longer than fastify\'s default 100-character params reach their route (a 200-character run id, a 128-character hash)', async () => {
    const runId = `r${'a'.repeat(199)}`;
    expect((await h.call('POST', '/v1/runs', { runId })).statusCode).toBe(200);
    const got = await h.call('GET', `/v1/runs/${runId}`);
    expect({ status: got.statusCode, runId: got.json().runId }).toEqual({ status: 200, runId });
    const miss = await h.call('GET', `/v1/cache/${'1'.repeat(128)}`);
    expect({ status: miss.statusCode, body: miss.json() }).toEqual({ status: 404, body: { code: 'not_found', message: expect.stringMatching(/^no artifact/) } });
  });
});
