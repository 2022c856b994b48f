/**
 * Test support for fuzz.spec.ts: a seeded PRNG and generators of hostile requests for
 * every route of ROUTES. Pure (no I/O): the spec sends what these build.
 *
 * Each request is built from its own PRNG, seeded from (seed, index), so one request
 * of a run can be rebuilt alone: `generateRequest(seed, index, world)`.
 */
import { HEADER_BRANCH, HEADER_SHA256, ROUTES, type RouteName } from '@fleet/protocol';

/* ---------------------------------------------------------------- PRNG */

export interface Rng {
  /** [0, 1) */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast and good enough to pick test inputs. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    chance: (p) => next() < p,
  };
}

/** The PRNG of request `index` of a run seeded with `seed`. */
export function rngFor(seed: number, index: number): Rng {
  return createRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

/* ---------------------------------------------------------------- requests */

export interface FuzzRequest {
  /** Which generator built it (for the report). */
  readonly kind: string;
  readonly method: string;
  /** As sent on the request line (already encoded, or deliberately not). */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** Exact bytes to write on a fresh socket instead of a request through undici. */
  readonly raw?: Buffer;
  /** Raw only: end our side of the socket after writing (a truncated request). */
  readonly halfClose?: boolean;
  /** The client broke the protocol so badly that the server may just close the connection. */
  readonly mayGoUnanswered?: boolean;
}

/** Ids that exist on the server under test (created before the fuzz starts). */
export interface FuzzWorld {
  readonly token: string;
  readonly runIds: readonly string[];
  readonly executionIds: readonly string[];
  readonly leaseIds: readonly string[];
  readonly hashes: readonly string[];
  readonly agentNames: readonly string[];
  readonly taskIds: readonly string[];
  /** The artifact limit the server was started with. */
  readonly maxArtifactBytes: number;
}

const ROUTE_NAMES = Object.keys(ROUTES) as RouteName[];
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function alnum(r: Rng, min: number, max: number): string {
  let out = '';
  for (let i = r.int(min, max); i > 0; i--) out += ALNUM[r.int(0, ALNUM.length - 1)];
  return out;
}

/* ---------------------------------------------------------------- junk values */

const UNICODE = ['ü', '日本', '🚀', '\u202e', '\u200b', '\ufeff', 'Ω', '\ud800', '\udfff', 'é', '\u0301', '𝕏'];
const CONTROL = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f'];
const TRICKY = [
  '',
  ' ',
  '..',
  '../../etc/passwd',
  '..\\..\\windows',
  '/etc/passwd',
  'C:\\x',
  '%2e%2e%2f',
  '${jndi:ldap://x}',
  "'; DROP TABLE runs; --",
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  'true',
  '{"$gt":""}',
  'a:b:c:d',
  'p:',
  ':t',
];

/** A string of `length` characters, of one of several flavours. */
export function junkString(r: Rng, length: number): string {
  const flavour = r.int(0, 5);
  if (length === 0) return '';
  if (flavour === 0) return 'a'.repeat(length);
  if (flavour === 1) return alnum(r, length, length);
  let out = '';
  while (out.length < length) {
    const piece =
      flavour === 2
        ? r.pick(UNICODE)
        : flavour === 3
          ? r.pick(CONTROL)
          : flavour === 4
            ? r.pick(TRICKY) || 'x'
            : r.pick([r.pick(UNICODE), r.pick(CONTROL), alnum(r, 1, 8), r.pick(TRICKY)]);
    out += piece;
    if (out.length < length && length > 4096) out = out.repeat(Math.min(1024, Math.ceil(length / out.length)));
  }
  return out.slice(0, length);
}

/** Mostly short; sometimes long; rarely close to 1 MB (fastify's default body limit). */
function junkLength(r: Rng): number {
  const p = r.next();
  if (p < 0.6) return r.int(0, 40);
  if (p < 0.85) return r.int(41, 300);
  if (p < 0.97) return r.int(301, 70_000);
  return r.int(70_001, 1_100_000);
}

function deep(r: Rng, depth: number): unknown {
  let value: unknown = r.pick([1, 'x', null, true]);
  for (let i = 0; i < depth; i++) value = r.chance(0.5) ? [value] : { [r.pick(['a', 'b', 'deps', 'id'])]: value };
  return value;
}

export function junkValue(r: Rng, depth = 0): unknown {
  switch (r.int(0, 13)) {
    case 0:
      return null;
    case 1:
      return r.pick([true, false]);
    case 2:
      return r.pick([0, -1, 1, -0, 1.5, -1.5, 65, 1001, 25001, 1e21, 1e308, -1e308, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 0.1]);
    case 3:
      return r.int(-2_000_000_000, 2_000_000_000);
    case 4:
    case 5:
    case 6:
      return junkString(r, junkLength(r));
    case 7:
      return r.pick(TRICKY);
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return depth > 3 ? 'x' : Array.from({ length: r.int(1, 5) }, () => junkValue(r, depth + 1));
    case 11:
      return depth > 3 ? 'x' : { [junkKey(r)]: junkValue(r, depth + 1) };
    case 12:
      return deep(r, r.pick([10, 100, 1000])); // deeper nesting is built as text (malformedJson)
    default:
      return r.chance(0.5) ? Array.from({ length: r.pick([1000, 10_001, 100_001]) }, () => 'p:t') : String(r.int(0, 99));
  }
}

function junkKey(r: Rng): string {
  return r.pick(['extra', '', ' ', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'runId ', 'RUNID', '日本', 'a'.repeat(300), '\u0000', '$where', 'tasks[0]', 'a.b']);
}

/* ---------------------------------------------------------------- valid-looking bodies */

function runId(r: Rng, w: FuzzWorld): string {
  return r.chance(0.6) ? r.pick(w.runIds) : `fuzz-${alnum(r, 1, 24)}`;
}
function opaque(r: Rng, known: readonly string[]): string {
  return r.chance(0.6) && known.length > 0 ? r.pick(known) : alnum(r, 1, 20);
}
function agentName(r: Rng, w: FuzzWorld): string {
  return r.chance(0.7) ? r.pick(w.agentNames) : `agent-${alnum(r, 1, 10)}`;
}
function hash(r: Rng, w: FuzzWorld): string {
  return r.chance(0.4) ? r.pick(w.hashes) : String(r.int(1, 2 ** 31)) + String(r.int(0, 1e9));
}
function taskId(r: Rng, w: FuzzWorld): string {
  return r.chance(0.6) ? r.pick(w.taskIds) : `p${alnum(r, 1, 6)}:${r.pick(['build', 'test', 'lint'])}`;
}

/** Long-polls stay short: any waitMs the server would accept is at most 50. */
const shortWait = (r: Rng): number => r.int(0, 50);

type BodyBuilder = (r: Rng, w: FuzzWorld) => Record<string, unknown>;

const BODIES: Partial<Record<RouteName, BodyBuilder>> = {
  createRun: (r, w) => {
    const body: Record<string, unknown> = { runId: runId(r, w) };
    if (r.chance(0.5)) body.agents = r.int(0, 10);
    if (r.chance(0.3)) body.stopAgentsOnFailure = r.chance(0.5);
    if (r.chance(0.3)) body.branch = r.pick(['main', 'feature/x', 'dependabot/npm/y']);
    if (r.chance(0.3)) body.retries = r.int(0, 3);
    if (r.chance(0.3)) body.stopAgentsAfter = ['build', 'e2e-ci'];
    if (r.chance(0.3)) body.mainTimeoutMs = r.int(10_000, 60_000);
    if (r.chance(0.3)) body.runTimeoutMs = r.int(60_000, 600_000);
    if (r.chance(0.3)) body.taskTimeoutMs = r.int(10_000, 600_000);
    return body;
  },
  completeRun: (r) => (r.chance(0.5) ? { reason: 'fuzz' } : {}),
  joinRun: (r, w) => ({ agentName: agentName(r, w), parallel: r.int(1, 8) }),
  lease: (r, w) => ({ agentName: agentName(r, w), waitMs: shortWait(r) }),
  createExecution: (r, w) => {
    const n = r.int(0, 4);
    const tasks = Array.from({ length: n }, (_, i) => ({
      id: `fz${i}:build`,
      project: `fz${i}`,
      target: 'build',
      hash: r.chance(0.8) ? String(r.int(1, 1e9)) : null,
      deps: i > 0 && r.chance(0.5) ? [`fz${i - 1}:build`] : [],
    }));
    return { executionId: opaque(r, w.executionIds), command: 'nx run-many -t build', tasks };
  },
  reportHash: (r, w) => ({ taskId: taskId(r, w), hash: hash(r, w) }),
  finishExecution: (r) => ({ status: r.pick(['succeeded', 'failed', 'cancelled']) }),
  heartbeatLease: (r, w) => ({ agentName: agentName(r, w) }),
  completeLease: (r, w) => {
    const body: Record<string, unknown> = {
      agentName: agentName(r, w),
      hash: r.chance(0.8) ? hash(r, w) : null,
      exitCode: r.int(-1, 2),
      durationMs: r.int(0, 100_000),
    };
    if (r.chance(0.3)) body.message = 'fuzz';
    if (r.chance(0.3)) body.log = hash(r, w);
    return body;
  },
  releaseLease: (r, w) => ({ agentName: agentName(r, w), ...(r.chance(0.5) ? { reason: 'fuzz' } : {}) }),
  createToken: (r) => ({
    scope: r.pick(['read-only', 'read-write', 'admin']),
    ...(r.chance(0.5) ? { workspace: r.pick(['default', 'fuzz', 'other']) } : {}),
    ...(r.chance(0.5) ? { label: 'fuzz' } : {}),
    ...(r.chance(0.3) ? { branchScoped: r.chance(0.5) } : {}),
  }),
};

/** A valid(-looking) path of `route` with known or well-formed ids. */
function validPath(r: Rng, w: FuzzWorld, route: RouteName): string {
  return ROUTES[route].url.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    switch (key) {
      case 'runId':
        return encodeURIComponent(runId(r, w));
      case 'executionId':
        return opaque(r, w.executionIds);
      case 'leaseId':
        return opaque(r, w.leaseIds);
      case 'hash':
        return hash(r, w);
      case 'tokenId':
        return `tok_${alnum(r, 8, 20)}`;
      default:
        return alnum(r, 1, 10);
    }
  });
}

/** Segments that try to leave the route, break decoding or overflow limits. */
function junkSegment(r: Rng): string {
  return r.pick([
    '..',
    '.',
    '%2e%2e',
    '%2E%2E',
    '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '..%2f..%2f..%2fetc%2fpasswd',
    '%252e%252e',
    '%00',
    'a%00b',
    '%2F',
    'a%2Fb',
    '%5C',
    '..%5c..%5c',
    '%',
    '%ZZ',
    'a%',
    '%C0%AF',
    '%E2%80%AE',
    '%ED%A0%80',
    '%F0%9F%9A%80',
    encodeURIComponent(Buffer.from(r.pick(UNICODE) + r.pick(UNICODE)).toString('utf8')), // lone surrogates become U+FFFD
    '%20',
    '+',
    ';',
    '~',
    '%3F',
    '%23',
    '%3A',
    '*',
    'a'.repeat(r.pick([65, 100, 101, 129, 200, 201, 1000, 8000])),
    encodeURIComponent(':'.repeat(r.int(1, 200))),
    'x'.repeat(r.pick([17_000, 70_000])),
    alnum(r, 1, 64),
    '',
  ]);
}

function junkParamPath(r: Rng, w: FuzzWorld, route: RouteName): string {
  return ROUTES[route].url.replace(/:([A-Za-z]+)/g, () => (r.chance(0.8) ? junkSegment(r) : validPath(r, w, route).split('/')[3] ?? 'x'));
}

function junkQuery(r: Rng): string {
  const parts: string[] = [];
  for (let i = r.int(1, 4); i > 0; i--) {
    const key = r.pick(['since', 'waitMs', 'since', 'waitMs', 'foo', '', '__proto__', 'constructor', 'since[]', 'waitMs[a]', '%00', 'a'.repeat(500)]);
    const value = r.pick([
      'abc',
      '-1',
      '-2',
      '',
      '1.5',
      '25001',
      '99999999999999999999',
      '1e309',
      'NaN',
      'Infinity',
      '0x10',
      '%20',
      '%00',
      'true',
      'null',
      '[]',
      '{}',
      String(r.int(0, 50)),
      String(r.int(1_000_000, 2_000_000_000)),
      'a'.repeat(r.pick([10, 5000])),
    ]);
    parts.push(r.chance(0.1) ? key : `${key}=${value}`);
  }
  return `?${parts.join(r.chance(0.9) ? '&' : ';')}`;
}

/** A query string the server accepts for a watch, with a short wait. */
function shortWatchQuery(r: Rng): string {
  return r.pick(['', `?waitMs=${shortWait(r)}`, `?since=${r.int(-1, 5)}&waitMs=${shortWait(r)}`, '?since=1000000&waitMs=20', '?since=0']);
}

/* ---------------------------------------------------------------- body mutation */

function mutateObject(r: Rng, valid: Record<string, unknown>): unknown {
  const body: Record<string, unknown> = { ...valid };
  const keys = Object.keys(body);
  switch (r.int(0, 7)) {
    case 0:
      return body; // as it is
    case 1:
      if (keys.length > 0) delete body[r.pick(keys)];
      else body.extra = junkValue(r);
      return body;
    case 2:
      body[junkKey(r)] = junkValue(r);
      return body;
    case 3:
    case 4:
      if (keys.length > 0) body[r.pick(keys)] = junkValue(r);
      else body.extra = junkValue(r);
      return body;
    case 5: {
      // inside nested values (tasks[i], deps…)
      const key = keys.find((k) => Array.isArray(body[k])) ?? (keys.length > 0 ? r.pick(keys) : 'extra');
      const value = body[key];
      if (Array.isArray(value) && value.length > 0) {
        const copy = [...value];
        const i = r.int(0, copy.length - 1);
        const item = copy[i];
        if (item !== null && typeof item === 'object') {
          const inner = item as Record<string, unknown>;
          const innerKeys = Object.keys(inner);
          copy[i] = r.chance(0.7) && innerKeys.length > 0 ? { ...inner, [r.pick(innerKeys)]: junkValue(r) } : { ...inner, [junkKey(r)]: 1 };
        } else {
          copy[i] = junkValue(r);
        }
        body[key] = copy;
      } else {
        body[key] = [junkValue(r), junkValue(r)];
      }
      return body;
    }
    case 6:
      return junkValue(r); // the whole body
    default:
      for (const key of keys) if (r.chance(0.5)) body[key] = junkValue(r);
      return body;
  }
}

/** Long-polls stay short: a waitMs the server would accept above 50 is cut to 50. */
function keepLongPollShort(route: RouteName, body: unknown): unknown {
  if (route !== 'lease' || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const waitMs = (body as Record<string, unknown>).waitMs;
  if (typeof waitMs === 'number' && Number.isInteger(waitMs) && waitMs > 50 && waitMs <= 25_000) {
    return { ...(body as Record<string, unknown>), waitMs: 50 };
  }
  return body;
}

function stringify(value: unknown): string {
  // JSON.stringify(undefined) is undefined; a lone surrogate is escaped by JSON.stringify
  return JSON.stringify(value) ?? 'null';
}

/** Text that is not JSON, or JSON that a strict parser should refuse. */
function malformedJson(r: Rng, text: string): Buffer {
  switch (r.int(0, 15)) {
    case 0:
      return Buffer.from(text.slice(0, r.int(0, Math.max(0, text.length - 1))));
    case 1: {
      const at = r.int(0, text.length);
      return Buffer.from(text.slice(0, at) + r.pick(['"', '}', ']', ',', ':', '\\', '\u0000', 'x', '{']) + text.slice(at));
    }
    case 2:
      return Buffer.from(text.replace(/"/g, "'"));
    case 3:
      return Buffer.from(text.replace(/}$/, ',}'));
    case 4:
      return Buffer.from(`/* c */${text}`);
    case 5:
      return Buffer.from(`\ufeff${text}`);
    case 6:
      return Buffer.from(r.pick(['NaN', 'Infinity', '-Infinity', 'undefined', "{'a':1}", '{a:1}', '[1,]', '{"a":01}', '{"a":.5}', '{"a":1e}', '"\\u12"', '"\\x41"', '{"a":"\t"}']));
    case 7:
      return Buffer.from(`${text}${text}`);
    case 8:
      return Buffer.concat([Buffer.from(text.slice(0, 5)), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from(text.slice(5))]);
    case 9:
      return Buffer.from(r.pick(['', ' ', '\n', '\u0000', 'null', 'true', '0', '""', '[]']));
    case 10:
      return Buffer.from('['.repeat(r.pick([1000, 100_000])) + (r.chance(0.5) ? ']'.repeat(1000) : ''));
    case 11:
      return Buffer.from('{"a":'.repeat(r.pick([1000, 50_000])) + '1' + '}'.repeat(r.pick([0, 1000, 50_000])));
    case 12:
      return Buffer.from(text.replace(/^\{/, '{"__proto__":{"polluted":true},'));
    case 13:
      return Buffer.from(text.replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},'));
    case 14:
      return Buffer.from(text.replace(/^\{/, '{"runId":"a","runId":1,'));
    default:
      return Buffer.from(text.replace(/"/, `"${'\\u0000'.repeat(r.int(1, 100))}`));
  }
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8'];
const WRONG_TYPES = [
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'application/jsonx',
  'application/json, text/plain',
  'json',
  '*/*',
  ';',
  ';;;',
  'application/json;;;',
  'a'.repeat(5000),
  '日本',
];

/* ---------------------------------------------------------------- auth and headers */

function authHeader(r: Rng, w: FuzzWorld): Record<string, string> {
  switch (r.int(0, 11)) {
    case 0:
      return {};
    case 1:
      return { authorization: '' };
    case 2:
      return { authorization: 'Bearer' };
    case 3:
      return { authorization: 'Bearer ' };
    case 4:
      return { authorization: `Bearer ${w.token}x` };
    case 5:
      return { authorization: `Basic ${Buffer.from(`u:${w.token}`).toString('base64')}` };
    case 6:
      return { authorization: w.token };
    case 7:
      return { authorization: `Bearer ${w.token.slice(0, -1)}` };
    case 8:
      return { authorization: `Bearer ${'a'.repeat(r.pick([100, 8000, 20_000]))}` };
    case 9:
      return { authorization: `bearer   ${w.token}   ` }; // valid: the scheme is case-insensitive
    case 10:
      return { authorization: `Bearer ${w.token} ${w.token}` };
    default:
      return { authorization: `Bearer ${Buffer.from(junkString(r, 30), 'utf8').toString('latin1').replace(/[\r\n\0]/g, '')}` };
  }
}

const bearer = (w: FuzzWorld): Record<string, string> => ({ authorization: `Bearer ${w.token}` });

function sha256Header(r: Rng): string {
  return r.pick(['', 'zz', '0'.repeat(63), '0'.repeat(65), 'g'.repeat(64), 'a'.repeat(64), 'A'.repeat(64), ' '.repeat(64), `${'a'.repeat(64)}, ${'b'.repeat(64)}`, 'sha256-abc', 'a'.repeat(10_000)]);
}

function branchHeader(r: Rng): string {
  return r.pick(['main', '', ' ', '..', '../../main', 'refs/heads/main', 'a'.repeat(257), 'a'.repeat(5000), '\t', 'é', 'main, feature', 'HEAD']);
}

/* ---------------------------------------------------------------- raw requests */

function rawRequest(head: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function rawKind(r: Rng, w: FuzzWorld): FuzzRequest {
  const auth = `Authorization: Bearer ${w.token}\r\n`;
  const cachePath = `/v1/cache/${hash(r, w)}`;
  const json = Buffer.from(stringify({ runId: runId(r, w) }));
  const pick = r.int(0, 22);
  const base = { kind: `raw-${pick}`, headers: {} } as const;
  const as = (method: string, path: string, raw: Buffer, extra: Partial<FuzzRequest> = {}): FuzzRequest => ({ ...base, method, path, raw, ...extra });
  switch (pick) {
    case 0: // duplicated Content-Length, different values
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\n`, Buffer.from('hello!')));
    case 1: // duplicated Content-Length, same value
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`, Buffer.from('hello')));
    case 2: // Content-Length larger than the body, then the client stops
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${r.int(10, 5000)}\r\nContent-Type: application/octet-stream\r\n\r\n`, Buffer.from('short')), { halfClose: true, mayGoUnanswered: true });
    case 3: // Content-Length smaller than the body: the rest is a second (garbage) request
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 3\r\nContent-Type: application/octet-stream\r\n\r\n`, Buffer.from('abcdefghij\r\n\r\n')));
    case 4: // not a number
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${r.pick(['-1', 'abc', '1e3', '0x10', ' ', '99999999999999999999', '+5', '5 5'])}\r\nConnection: close\r\n\r\nhello`));
    case 5: // both framings
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`));
    case 6: // chunked upload: no Content-Length (411)
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`));
    case 7: // broken chunk sizes
      return as('POST', '/v1/runs', rawRequest(`POST /v1/runs HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${r.pick(['zz', '-1', 'ffffffffffffffffff', '3;ext=' + 'a'.repeat(5000)])}\r\n{}\r\n0\r\n\r\n`));
    case 8: // no Host on HTTP/1.1
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\n${auth}Connection: close\r\n\r\n`));
    case 9: // HTTP/1.0
      return as('POST', '/v1/runs', rawRequest(`POST /v1/runs HTTP/1.0\r\n${auth}Content-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n`, json));
    case 10: // random bytes
      return as('?', '?', Buffer.concat([Buffer.from(Array.from({ length: r.int(1, 2000) }, () => r.int(0, 255))), Buffer.from('\r\n\r\n')]), { halfClose: r.chance(0.5), mayGoUnanswered: true });
    case 11: // an HTTP/2 preface, a TLS hello
      return as('PRI', '*', Buffer.from(r.chance(0.5) ? 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' : '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003', 'latin1'), { halfClose: true, mayGoUnanswered: true });
    case 12: // CONNECT / absolute-form / asterisk-form
      return r.chance(0.4)
        ? as('CONNECT', 'evil:443', rawRequest(`CONNECT evil:443 HTTP/1.1\r\nHost: evil:443\r\n${auth}\r\n`))
        : as('GET', 'absolute', rawRequest(`${r.pick(['GET http://evil.example/v1/runs/x', 'OPTIONS *', 'GET *', 'GET v1/runs/x', 'GET //evil.example/v1/runs/x'])} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`));
    case 13: // header names and values a client library would refuse to send
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}${r.pick(['X-A\u0000B: 1', 'X A: 1', 'X-A: a\u0000b', ': empty', 'X-A:\u0001\u0002', 'X-A: é日', ' X-A: folded', 'X-A: 1\r\n continued', 'X-A 1'])}\r\nConnection: close\r\n\r\n`));
    case 14: // the token with NUL, or duplicated Authorization
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${r.chance(0.5) ? `Authorization: Bearer ${w.token}\u0000\r\n` : `Authorization: Bearer wrong\r\n${auth}`}Connection: close\r\n\r\n`));
    case 15: // a request line with raw bytes: spaces, unicode, NUL, tabs
      return as('GET', 'raw-path', rawRequest(`GET /v1/runs/${r.pick(['a b', 'é', '日本', 'a\u0000b', 'a\tb', '../..', 'a\\b', '%', '"<>'])} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`));
    case 16: // lower-case or unknown methods
      return as('x', '/v1/runs', rawRequest(`${r.pick(['get', 'FOO', 'G E T', 'GET\u0000', 'PROPFIND', 'M-SEARCH', 'PURGE', 'LINK', 'QUERY', 'BREW'])} /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`));
    case 17: // a GET with a body
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`, json));
    case 18: // headers cut off mid-way
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}X-Cut: abc`), { halfClose: true, mayGoUnanswered: true });
    case 19: // a declared artifact far above the limit, nothing sent
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/octet-stream\r\nContent-Length: ${r.pick([w.maxArtifactBytes + 1, 2 ** 40, 9_007_199_254_740_991])}\r\n\r\n`), { halfClose: true, mayGoUnanswered: true });
    case 20: // Expect: 100-continue
      return as('PUT', cachePath, rawRequest(`PUT ${cachePath} HTTP/1.1\r\nHost: x\r\n${auth}Expect: ${r.pick(['100-continue', 'junk'])}\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`, Buffer.from('hello')));
    case 22: // a protocol switch nobody listens for
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}Connection: Upgrade\r\nUpgrade: ${r.pick(['websocket', 'h2c', 'junk'])}\r\n${r.chance(0.5) ? 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' : ''}\r\n`));
    default: // many headers
      return as('GET', '/v1/runs/x', rawRequest(`GET /v1/runs/${runId(r, w)} HTTP/1.1\r\nHost: x\r\n${auth}${Array.from({ length: r.pick([100, 2001, 5000]) }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}Connection: close\r\n\r\n`));
  }
}

/* ---------------------------------------------------------------- the generator */

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'HEAD', 'PROPFIND', 'FOO', 'SEARCH', 'PURGE'];

function withBodyHeaders(headers: Record<string, string>, contentType: string | null): Record<string, string> {
  return contentType === null ? headers : { ...headers, 'content-type': contentType };
}

function jsonRequest(kind: string, method: string, path: string, headers: Record<string, string>, body: unknown): FuzzRequest {
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return {
    kind,
    method,
    path,
    headers: hasBody ? withBodyHeaders(headers, 'application/json') : headers,
    ...(hasBody ? { body: Buffer.from(stringify(body)) } : {}),
  };
}

function routeOf(r: Rng): RouteName {
  return r.pick(ROUTE_NAMES);
}

function pathWithQuery(r: Rng, route: RouteName, path: string): string {
  return route === 'getExecution' ? path + shortWatchQuery(r) : path;
}

/** Request `index` of the run seeded with `seed`. */
export function generateRequest(seed: number, index: number, w: FuzzWorld): FuzzRequest {
  const r = rngFor(seed, index);
  const route = routeOf(r);
  const { method } = ROUTES[route];
  const build = BODIES[route];
  const validBody = (): Record<string, unknown> => (build === undefined ? {} : build(r, w));
  const p = r.next();

  if (p < 0.36) {
    // valid-looking bodies, mutated
    const body = keepLongPollShort(route, build === undefined ? junkValue(r) : mutateObject(r, validBody()));
    return jsonRequest(`body:${route}`, method, pathWithQuery(r, route, validPath(r, w, route)), bearer(w), body);
  }
  if (p < 0.46) {
    const text = stringify(validBody());
    return {
      kind: `malformed-json:${route}`,
      method: method === 'GET' ? 'POST' : method,
      path: validPath(r, w, route),
      headers: withBodyHeaders(bearer(w), r.pick(JSON_TYPES)),
      body: malformedJson(r, text),
    };
  }
  if (p < 0.53) {
    const text = r.chance(0.7) ? stringify(validBody()) : junkString(r, junkLength(r));
    const contentType = r.chance(0.15) ? null : r.pick(WRONG_TYPES);
    return {
      kind: `content-type:${route}`,
      method: method === 'GET' ? r.pick(['POST', 'PUT']) : method,
      path: validPath(r, w, route),
      headers: withBodyHeaders(bearer(w), contentType),
      body: Buffer.from(text),
    };
  }
  if (p < 0.65) {
    const body = keepLongPollShort(route, validBody());
    const path = junkParamPath(r, w, route);
    return jsonRequest(`params:${route}`, method, route === 'getExecution' ? path + shortWatchQuery(r) : path, bearer(w), body);
  }
  if (p < 0.71) {
    // query strings with junk (a junk query never asks for a wait above 50 ms that the server would accept)
    const target: RouteName = r.chance(0.7) ? 'getExecution' : route;
    const base = target === 'getExecution' ? `/v1/executions/${opaque(r, w.executionIds)}` : validPath(r, w, target);
    const query = junkQuery(r).replace(/waitMs=(\d+)/g, (m, n: string) => (Number(n) > 50 && Number(n) <= 25_000 ? 'waitMs=50' : m));
    const body = keepLongPollShort(target, BODIES[target]?.(r, w) ?? {});
    return jsonRequest(`query:${target}`, ROUTES[target].method, base + query, bearer(w), body);
  }
  if (p < 0.77) {
    const m = r.pick(METHODS);
    const path = pathWithQuery(r, route, validPath(r, w, route));
    return m === 'GET' || m === 'HEAD'
      ? { kind: `method:${route}`, method: m, path, headers: bearer(w) }
      : jsonRequest(`method:${route}`, m, path, bearer(w), keepLongPollShort(route, validBody()));
  }
  if (p < 0.82) {
    const segments = Array.from({ length: r.int(0, 6) }, () => (r.chance(0.4) ? r.pick(['v1', 'runs', 'executions', 'leases', 'cache', 'tokens', 'healthz', 'agents', 'lease', 'complete']) : junkSegment(r)));
    const path = `/${segments.join(r.chance(0.9) ? '/' : '//')}${r.chance(0.2) ? '/' : ''}${r.chance(0.2) ? junkQuery(r).replace(/waitMs=\d+/g, 'waitMs=x') : ''}`;
    const m = r.pick(METHODS);
    return m === 'GET' || m === 'HEAD' || r.chance(0.5)
      ? { kind: 'path', method: m, path, headers: r.chance(0.8) ? bearer(w) : {} }
      : jsonRequest('path', m, path, bearer(w), junkValue(r));
  }
  if (p < 0.88) {
    const body = keepLongPollShort(route, validBody());
    return jsonRequest(`auth:${route}`, method, pathWithQuery(r, route, validPath(r, w, route)), authHeader(r, w), body);
  }
  if (p < 0.92) {
    // odd headers on any route: huge ones, bogus fleet headers
    const headers: Record<string, string> = { ...bearer(w) };
    const which = r.int(0, 4);
    if (which === 0) headers['x-junk'] = 'a'.repeat(r.pick([1000, 15_000, 17_000, 70_000]));
    if (which === 1) headers[HEADER_BRANCH] = branchHeader(r);
    if (which === 2) headers[HEADER_SHA256] = sha256Header(r);
    if (which === 3) headers[`x-${'a'.repeat(r.pick([100, 20_000]))}`] = '1';
    if (which === 4) Object.assign(headers, { 'x-forwarded-for': '1.2.3.4, evil', 'x-forwarded-host': 'evil', 'accept-version': '9.9.9', 'accept-encoding': 'gzip;q=abc', 'content-encoding': 'gzip' });
    const body = keepLongPollShort(route, validBody());
    return jsonRequest(`headers:${route}`, method, pathWithQuery(r, route, validPath(r, w, route)), headers, body);
  }
  if (p < 0.97) {
    // artifact uploads and downloads through a well-behaved client
    const key = r.chance(0.5) ? r.pick(['fuzz-shared-1', 'fuzz-shared-2', ...w.hashes]) : hash(r, w);
    const size = r.chance(0.9) ? r.int(0, 2000) : r.pick([w.maxArtifactBytes, w.maxArtifactBytes + 1, w.maxArtifactBytes + r.int(2, 100_000)]);
    const headers: Record<string, string> = { ...bearer(w), 'content-type': r.pick(['application/octet-stream', 'application/json', 'text/plain', 'multipart/form-data']) };
    if (r.chance(0.4)) headers[HEADER_SHA256] = sha256Header(r);
    if (r.chance(0.3)) headers[HEADER_BRANCH] = branchHeader(r);
    if (r.chance(0.2)) {
      return { kind: 'cache-get', method: r.pick(['GET', 'HEAD']), path: `/v1/cache/${key}`, headers };
    }
    return { kind: 'cache-put', method: 'PUT', path: `/v1/cache/${key}`, headers, body: Buffer.alloc(size, r.int(0, 255)) };
  }
  return rawKind(r, w);
}

/** One line per request for a report: huge parts are cut. */
export function describeRequest(request: FuzzRequest): string {
  const cut = (s: string, n = 300): string => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const headers = Object.entries(request.headers).map(([k, v]) => `${cut(k, 60)}: ${cut(v, 120)}`);
  const body = request.raw ?? request.body;
  return [
    `${request.kind}: ${request.method} ${cut(request.path)}`,
    headers.length > 0 ? `  headers: ${headers.join(' | ')}` : null,
    body !== undefined ? `  ${request.raw !== undefined ? 'raw bytes' : 'body'} (${body.length} bytes): ${JSON.stringify(cut(body.toString('latin1')))}` : null,
  ]
    .filter((line) => line !== null)
    .join('\n');
}
