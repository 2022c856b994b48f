#!/usr/bin/env node
'use strict';
/**
 * `npm run demo`: the main job of a CI pipeline on Fleet's embedded default. Starts a
 * coordinator (SQLite + a blob folder), three agents in their own checkouts and a main
 * job on a sample workspace in a temporary folder, then prints a summary.
 */
const { spawn, spawnSync } = require('node:child_process');
const { cpSync, createWriteStream, mkdtempSync, mkdirSync, readdirSync, symlinkSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { writeSampleWorkspace, idealSeconds } = require('./sample-workspace');

const REPO = resolve(__dirname, '../..');
const CLI = join(REPO, 'packages/nx-fleet/bin/nx-fleet.js');
const AGENTS = Number(process.env.FLEET_DEMO_AGENTS || 3);
const root = mkdtempSync(join(tmpdir(), 'fleet-demo-'));
const children = [];

function say(line) {
  process.stdout.write(`\x1b[1m[demo]\x1b[0m ${line}\n`);
}

function baseEnv(home) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(NX_|FLEET_)/.test(k)) env[k] = v;
  mkdirSync(home, { recursive: true });
  return { ...env, HOME: home, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' };
}

function start(name, args, { cwd, env, logFile }) {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = createWriteStream(logFile);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.exited = new Promise((res) => child.on('close', (code) => log.end(() => res(code))));
  children.push(child);
  return child;
}

function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}
process.on('exit', killAll);
process.on('SIGINT', () => process.exit(130));

async function waitForCoordinator(child, timeoutMs) {
  const started = Date.now();
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  while (Date.now() - started < timeoutMs) {
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) {
      const res = await fetch(`${m[1]}/healthz`).catch(() => null);
      if (res && res.ok) return m[1];
    }
    if (child.exitCode !== null) throw new Error(`the coordinator exited with code ${child.exitCode}; see ${root}/coordinator.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the coordinator did not answer /healthz within ${timeoutMs / 1000} s`);
}

function mainStep(args, env, cwd) {
  process.stdout.write(`\n\x1b[2m$ ${args.join(' ')}\x1b[0m\n`);
  const r = spawnSync(args[0] === 'nx-fleet' ? process.execPath : process.execPath, args[0] === 'nx-fleet' ? [CLI, ...args.slice(1)] : [join(cwd, 'node_modules/nx/bin/nx.js'), ...args.slice(1)], {
    cwd,
    env,
    stdio: 'inherit',
  });
  return r.status ?? 1;
}

async function main() {
  say(`working in ${root}`);
  const token = require('node:crypto').randomBytes(16).toString('hex');
  const coordinator = start('coordinator', [CLI, 'serve', '--port', '0', '--data-dir', join(root, 'coordinator-data')], {
    cwd: root,
    env: { ...baseEnv(join(root, '.home-coordinator')), FLEET_TOKEN: token },
    logFile: join(root, 'coordinator.log'),
  });
  const url = await waitForCoordinator(coordinator, 30_000);
  say(`coordinator: ${url} (SQLite + blob folder in ${join(root, 'coordinator-data')})`);

  const mainDir = join(root, 'main');
  mkdirSync(mainDir);
  writeSampleWorkspace(mainDir, REPO);
  const runId = `demo-${Date.now()}`;
  const common = { FLEET_URL: url, FLEET_TOKEN: token, FLEET_RUN_ID: runId };

  const agents = [];
  for (let i = 1; i <= AGENTS; i++) {
    const dir = join(root, `agent-${i}`);
    cpSync(mainDir, dir, { recursive: true, filter: (src) => !src.endsWith('/node_modules') });
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
    agents.push(
      start(`agent-${i}`, [CLI, 'start-agent', '--name', `agent-${i}`], {
        cwd: dir,
        env: { ...baseEnv(join(dir, '.home')), ...common },
        logFile: join(root, `agent-${i}.log`),
      }),
    );
  }
  say(`${AGENTS} agents started, each in its own checkout (logs: ${root}/agent-N.log)`);

  const env = { ...baseEnv(join(mainDir, '.home')), ...common, CI: 'true' };
  const t0 = Date.now();
  let code = mainStep(['nx-fleet', 'start-ci-run', '--agents', String(AGENTS)], env, mainDir);
  let nxCode = 1;
  if (code === 0) nxCode = mainStep(['nx', 'run-many', '-t', 'build', 'test', 'lint'], env, mainDir);
  const wall = (Date.now() - t0) / 1000;
  const stopCode = mainStep(['nx-fleet', 'stop-all-agents'], env, mainDir);
  const agentCodes = await Promise.race([
    Promise.all(agents.map((a) => a.exited)),
    new Promise((r) => setTimeout(() => r(null), 30_000)),
  ]);

  const perAgent = [];
  for (let i = 1; i <= AGENTS; i++) {
    const log = require('node:fs').readFileSync(join(root, `agent-${i}.log`), 'utf8');
    perAgent.push((log.match(/^\[fleet\] running /gm) || []).length);
  }
  const { critical, total, ideal, tasks } = idealSeconds(AGENTS);
  const outputs = readdirSync(join(mainDir, 'dist')).length;
  process.stdout.write('\n');
  say('summary');
  const rows = [
    ['tasks', `${tasks} (build, test, lint of 7 projects)`],
    ['agents', `${AGENTS}; tasks run per agent: ${perAgent.join(', ')}; exit codes: ${agentCodes ? agentCodes.join(', ') : 'still running after 30 s'}`],
    ['wall time (main)', `${wall.toFixed(1)} s`],
    ['ideal time', `${ideal.toFixed(1)} s = max(critical path ${critical.toFixed(1)} s, total work ${total.toFixed(1)} s / ${AGENTS})`],
    ['nx exit code', String(nxCode)],
    ['outputs', `${join(mainDir, 'dist')} (${outputs} projects restored on main)`],
    ['logs', root],
  ];
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(18)} ${v}\n`);
  killAll();
  const ok = code === 0 && nxCode === 0 && stopCode === 0 && agentCodes && agentCodes.every((c) => c === 0);
  if (!ok) say('the demo did not end cleanly: see the logs above');
  if (ok && process.env.FLEET_DEMO_KEEP !== '1') rmSync(join(root, 'coordinator-data'), { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`[demo] ${error.stack || error}\n`);
  process.exitCode = 1;
  killAll();
});
