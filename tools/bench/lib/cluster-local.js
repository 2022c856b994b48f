'use strict';
/**
 * Processes for the scheduling bench: a coordinator on a free port, agents in their own
 * checkouts (`nx-fleet start-agent`), and bounded one-shot commands. Every process starts in
 * its own process group and is tracked, so `stopAll()` (also run on exit) ends all of them.
 * Plain CommonJS: the small parts of e2e/fleet/cluster.ts and tools/demo/run-demo.js the bench needs.
 */
const { spawn } = require('node:child_process');
const { createWriteStream, mkdirSync, readFileSync, existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const live = new Set();
/** Detached processes our commands leave (main's heartbeat from start-ci-run): killed by pid on exit. */
const strays = new Set();
function adopt(pid) {
  if (Number.isInteger(pid)) strays.add(pid);
}
function killStrays() {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  strays.clear();
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Kills every process group this module started that is still running (SIGTERM, then SIGKILL). */
async function stopAll(graceMs = 5_000) {
  const procs = [...live];
  for (const p of procs) signalGroup(p.pid, 'SIGTERM');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, graceMs))]);
  for (const p of procs) if (!p.hasExited) signalGroup(p.pid, 'SIGKILL');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 2_000))]);
}
process.on('exit', () => {
  for (const p of live) signalGroup(p.pid, 'SIGKILL');
  killStrays();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const p of live) signalGroup(p.pid, 'SIGKILL');
    killStrays();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

/**
 * A minimal environment for Nx and Fleet in `dir`: HOME and Nx's caches inside it, no daemon,
 * no TUI, no cloud, CI=true, nothing NX_* / FLEET_* inherited. `extra` adds or (undefined) removes.
 */
function isolatedEnv(dir, extra = {}) {
  const env = {};
  for (const k of ['PATH', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL', 'SHELL']) if (process.env[k] !== undefined) env[k] = process.env[k];
  const home = join(dir, '.home');
  mkdirSync(home, { recursive: true });
  Object.assign(env, {
    HOME: home,
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    NX_DAEMON: 'false',
    NX_TUI: 'false',
    NX_NO_CLOUD: 'true',
    CI: 'true',
    NX_CACHE_DIRECTORY: join(dir, '.nx', 'cache'),
    NX_NATIVE_FILE_CACHE_DIRECTORY: join(home, '.nx-native'),
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * Starts `args` with node in its own process group; output goes to `logFile` and is kept in
 * memory (`output`), with the arrival time of each line (`lines: [{ at, text }]`).
 */
function startNode(name, args, { cwd, env, logFile }) {
  mkdirSync(dirname(logFile), { recursive: true });
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  const proc = { name, pid: child.pid, child, output: '', lines: [], hasExited: false, code: null, signal: null, startedAt: Date.now(), endedAt: null };
  const partial = { out: '', err: '' };
  const onData = (which) => (chunk) => {
    const text = chunk.toString('utf8');
    proc.output += text;
    log.write(chunk);
    const now = Date.now();
    const parts = (partial[which] + text).split('\n');
    partial[which] = parts.pop();
    for (const line of parts) proc.lines.push({ at: now, text: line });
  };
  child.stdout.on('data', onData('out'));
  child.stderr.on('data', onData('err'));
  proc.exited = new Promise((resolve) => {
    const finish = (code, signal) => {
      if (proc.hasExited) return;
      proc.hasExited = true;
      proc.code = code;
      proc.signal = signal;
      proc.endedAt = Date.now();
      live.delete(proc);
      log.end(() => resolve({ code, signal }));
    };
    child.on('close', finish);
    child.on('error', (error) => {
      proc.output += `could not start ${name}: ${error.message}\n`;
      finish(null, null);
    });
  });
  proc.kill = (signal = 'SIGTERM') => signalGroup(child.pid, signal);
  /** SIGTERM the group, SIGKILL after graceMs. */
  proc.stop = async (graceMs = 5_000) => {
    if (proc.hasExited) return proc.exited;
    proc.kill('SIGTERM');
    const done = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r(null), graceMs))]);
    if (done === null) {
      proc.kill('SIGKILL');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 2_000))]);
    }
    return proc.exited;
  };
  live.add(proc);
  return proc;
}

/** Runs to the end (or kills at `timeoutMs`): { code, output, startedAt, endedAt, seconds, timedOut }. */
async function runNode(name, args, options, timeoutMs) {
  const proc = startNode(name, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.stop(2_000);
  }, timeoutMs);
  await proc.exited;
  clearTimeout(timer);
  return { code: timedOut ? null : proc.code, output: proc.output, startedAt: proc.startedAt, endedAt: proc.endedAt, seconds: (proc.endedAt - proc.startedAt) / 1000, timedOut };
}

/** A coordinator (`nx-fleet serve --port 0`) with its data in `dataDir`; resolves once /healthz answers. */
async function startCoordinator(cli, dataDir, token, timeoutMs = 30_000) {
  mkdirSync(dataDir, { recursive: true });
  const proc = startNode('coordinator', [cli, 'serve', '--port', '0', '--data-dir', dataDir], {
    cwd: dataDir,
    env: isolatedEnv(dataDir, { FLEET_TOKEN: token }),
    logFile: join(dataDir, 'coordinator.log'),
  });
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 100 && Date.now() < deadline; i++) {
    const m = /listening on (http:\/\/\S+)/.exec(proc.output);
    if (m) {
      const res = await fetch(`${m[1]}/healthz`).catch(() => null);
      if (res && res.ok) return { url: m[1], token, proc };
    }
    if (proc.hasExited) throw new Error(`the coordinator exited (code ${proc.code}): ${proc.output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop();
  throw new Error(`the coordinator did not answer /healthz within ${timeoutMs / 1000} s`);
}

async function getRun(coordinator, runId) {
  const res = await fetch(`${coordinator.url}/v1/runs/${encodeURIComponent(runId)}`, {
    headers: { authorization: `Bearer ${coordinator.token}` },
  }).catch(() => null);
  if (!res) return null;
  if (!res.ok) {
    await res.arrayBuffer();
    return null;
  }
  return res.json();
}

/** Polls (every 50 ms, bounded) until `count` agents have joined run `runId`; resolves with the time, else null. */
async function waitForAgents(coordinator, runId, count, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 50 && Date.now() < deadline; i++) {
    const run = await getRun(coordinator, runId);
    if (run && Array.isArray(run.agents) && run.agents.length >= count) return Date.now();
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

/** The pid of main's heartbeat process, when start-ci-run's marker names one. */
function heartbeatPid(workspace) {
  const file = join(workspace, '.fleet', 'ci-run.json');
  if (!existsSync(file)) return null;
  try {
    const marker = JSON.parse(readFileSync(file, 'utf8'));
    const pid = marker.heartbeatPid ?? marker.heartbeat?.pid;
    return Number.isInteger(pid) ? pid : null;
  } catch {
    return null;
  }
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

module.exports = { adopt, killStrays, isolatedEnv, startNode, runNode, startCoordinator, getRun, waitForAgents, heartbeatPid, processAlive, stopAll, signalGroup };
