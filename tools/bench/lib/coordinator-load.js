'use strict';
/**
 * Shared by tools/bench/coordinator.js and tools/bench/dispatch.js: a real coordinator
 * (`startServer` from the built @fleet/coordinator: SQLite in a temporary data dir,
 * 127.0.0.1 port 0, its own token, no rate limit), either in a child process (the
 * default: the load generator does not share its event loop) or in this process; a
 * small keep-alive HTTP client (undici, one connection per simulated agent); plan
 * shapes; percentiles.
 *
 * Run as a script, this file is the child process: it starts the server, sends its URL
 * to the parent over IPC, answers `cpu` requests with its process.cpuUsage() and
 * memoryUsage(), and closes on `close` or when the parent goes away.
 */
const { prng } = require('./prng');
const { fork } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { randomBytes } = require('node:crypto');

const REPO = join(__dirname, '../../..');

function serverConfig(dataDir, token) {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    token,
    rateLimitPerMinute: 0,
    // the benches' agents hold every long-poll of the run with one token
    maxLongPollsPerToken: 10_000,
  };
}

/* ------------------------------------------------------------------ child process */

if (require.main === module) {
  const { startServer } = require('@fleet/coordinator');
  let server = null;
  const shutdown = async (code) => {
    try {
      if (server) await server.close();
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => void shutdown(0));
  process.on('message', (message) => {
    if (message && message.type === 'cpu') {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      process.send({ type: 'cpu', id: message.id, user: cpu.user, system: cpu.system, rss: mem.rss });
    } else if (message && message.type === 'close') {
      void shutdown(0);
    }
  });
  startServer(serverConfig(process.env.FLEET_BENCH_DATA_DIR, process.env.FLEET_BENCH_TOKEN)).then(
    (s) => {
      server = s;
      process.send({ type: 'ready', url: s.url });
    },
    (error) => {
      process.send({ type: 'error', message: String(error && error.stack ? error.stack : error) });
      process.exit(1);
    },
  );
  return;
}

/* ------------------------------------------------------------------ parent side */

/**
 * Starts a coordinator. `mode`: 'child' (default) or 'in-process'. `cpuProfDir`: run the
 * child with --cpu-prof into that folder (for investigations). Resolves to
 * { url, token, mode, cpu(): Promise<{user, system, rss}> (µs, bytes), close() }.
 */
async function startCoordinator({ mode = 'child', cpuProfDir = process.env.FLEET_BENCH_CPU_PROF } = {}) {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'fleet-bench-coord-'));
  const token = `bench-${randomBytes(16).toString('hex')}`;
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (mode === 'in-process') {
    const { startServer } = require('@fleet/coordinator');
    let server;
    try {
      server = await startServer(serverConfig(dataDir, token));
    } catch (error) {
      removeDir();
      throw error;
    }
    return {
      url: server.url,
      token,
      mode,
      pid: process.pid,
      async cpu() {
        const c = process.cpuUsage();
        return { user: c.user, system: c.system, rss: process.memoryUsage().rss };
      },
      async close() {
        try {
          await server.close();
        } finally {
          removeDir();
        }
      },
    };
  }
  const execArgv = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = fork(__filename, [], {
    cwd: REPO,
    env: { ...process.env, FLEET_BENCH_DATA_DIR: dataDir, FLEET_BENCH_TOKEN: token },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let exited = false;
  const exitedPromise = new Promise((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const pending = new Map();
  let nextId = 1;
  child.on('message', (m) => {
    if (m && m.type === 'cpu' && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    }
  });
  const close = async () => {
    if (!exited) {
      try {
        child.send({ type: 'close' });
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    }
    removeDir();
  };
  let url;
  try {
    url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the coordinator child did not start within 30 s')), 30_000);
      child.on('message', (m) => {
        if (m && m.type === 'ready') {
          clearTimeout(timer);
          resolve(m.url);
        } else if (m && m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`the coordinator child failed to start: ${m.message}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the coordinator child exited with ${code} before it listened`));
      });
    });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url,
    token,
    mode,
    pid: child.pid,
    cpu() {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('no cpu answer from the coordinator child within 10 s'));
        }, 10_000);
        pending.set(id, (m) => {
          clearTimeout(timer);
          resolve({ user: m.user, system: m.system, rss: m.rss });
        });
        child.send({ type: 'cpu', id });
      });
    },
    close,
  };
}

/* ------------------------------------------------------------------ HTTP */

const undici = require('undici');

/**
 * One keep-alive connection to the coordinator (a simulated agent or main). `json` resolves
 * to { status, body, ms } where ms is the wall time from sending to the last byte of the answer.
 */
class CoordinatorConnection {
  constructor(url, token, { connections = 1 } = {}) {
    this.token = token;
    this.pool = new undici.Pool(url, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  async json(method, path, body, extraHeaders = {}) {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const started = process.hrtime.bigint();
    const res = await this.pool.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...extraHeaders,
      },
      body: payload,
    });
    const text = await res.body.text();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    let parsed;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (res.statusCode >= 400) {
      const error = new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      error.status = res.statusCode;
      throw error;
    }
    return { status: res.statusCode, body: parsed, ms };
  }

  /** A raw request (artifacts): resolves to { status, body: Buffer, headers, ms }. */
  async raw(method, path, { body, headers = {} } = {}) {
    const started = process.hrtime.bigint();
    const res = await this.pool.request({
      method,
      path,
      headers: { authorization: `Bearer ${this.token}`, ...headers },
      body,
    });
    const chunks = [];
    for await (const chunk of res.body) chunks.push(chunk);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { status: res.statusCode, body: Buffer.concat(chunks), headers: res.headers, ms };
  }

  close() {
    return this.pool.close().catch(() => undefined);
  }
}

/* ------------------------------------------------------------------ plans */

/** `n` tasks with no dependencies (`p<i>:build`); `salt` makes the hashes unique (no cache hit at plan time). */
function independentPlan(n, salt = 'x', prefix = 'p') {
  const tasks = [];
  for (let i = 0; i < n; i++) {
    tasks.push({ id: `${prefix}${i}:build`, project: `${prefix}${i}`, target: 'build', hash: `h${i}${salt}`, deps: [] });
  }
  return tasks;
}


/**
 * A monorepo-like DAG of about `n` tasks: n/3 projects, each with build, test and lint;
 * a project's build depends on the builds of 0–3 projects among the 100 before it, its
 * test and lint on its own build (Nx's `dependsOn: ["^build"]` / `["build"]`).
 */
function dagPlan(n, salt = 'x', prefix = 'p') {
  const projects = Math.max(1, Math.ceil(n / 3));
  const rand = prng(42);
  const tasks = [];
  for (let i = 0; i < projects && tasks.length < n; i++) {
    const project = `${prefix}${i}`;
    const deps = new Set();
    const count = i === 0 ? 0 : Math.floor(rand() * 4);
    for (let k = 0; k < count; k++) deps.add(`${prefix}${Math.max(0, i - 1 - Math.floor(rand() * Math.min(i, 100)))}:build`);
    tasks.push({ id: `${project}:build`, project, target: 'build', hash: `b${i}${salt}`, deps: [...deps] });
    if (tasks.length < n) tasks.push({ id: `${project}:test`, project, target: 'test', hash: `t${i}${salt}`, deps: [`${project}:build`] });
    if (tasks.length < n) tasks.push({ id: `${project}:lint`, project, target: 'lint', hash: `l${i}${salt}`, deps: [`${project}:build`] });
  }
  return tasks;
}

/* ------------------------------------------------------------------ numbers */

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const fmt = (ms, digits = 1) => (Number.isFinite(ms) ? `${ms.toFixed(digits)} ms` : 'n/a');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

module.exports = {
  startCoordinator,
  CoordinatorConnection,
  independentPlan,
  dagPlan,
  percentile,
  fmt,
  sleep,
  nowMs,
};
