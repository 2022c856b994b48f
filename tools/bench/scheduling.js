'use strict';
/**
 * Bench 1 of issue 6: Fleet's makespan against the lower bound LB = max(critical path, total
 * work / m), side by side in the same run with static binning (m CI matrix jobs, each
 * `nx run-many` on a round-robin share of the projects) and one machine
 * (`nx run-many --parallel=m`), on synthetic workspaces of sleeping `nx:run-commands` tasks.
 * See docs/benchmarks.md for the numbers and what they mean.
 */
const { randomBytes } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const ws = require('./lib/workspace-synthetic');
const cl = require('./lib/cluster-local');

const REPO = resolve(__dirname, '../..');
const CLI = join(REPO, 'packages/nx-fleet/bin/nx-fleet.js');
const NX = (dir) => join(dir, 'node_modules/nx/bin/nx.js');
const NX_VERSION = require(join(REPO, 'node_modules/nx/package.json')).version;

const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Agent variants measured beside the default: environment changes only, no change to Fleet's code. */
const DAEMON = { label: 'NX_DAEMON=true', env: { NX_DAEMON: 'true' } };
// Nx's own default, and the agents' before Fleet set NX_ISOLATE_PLUGINS=false for each task (agentNxEnv)
const ISOLATION = { label: 'NX_ISOLATE_PLUGINS=true', env: { NX_ISOLATE_PLUGINS: 'true' } };

function shapes(smoke) {
  if (smoke) return [{ graph: ws.forkJoin(1, 3, 0.2, 0.2), ms: [1, 2], variants: { 2: [DAEMON, ISOLATION] } }];
  // The whole full bench must stay under ~25 minutes on a shared 2-core machine: the DAG has
  // 160 s of work, and m = 1 is measured on the chain only (200 sequential `nx run`s would take
  // ~10 minutes alone and tell nothing the chain does not).
  const dag = ws.realisticDag({ n: 200, layers: 10, totalSeconds: 160, sigma: 1.0, minSeconds: 0.1, maxSeconds: 8, seed: 6 });
  // NX_DAEMON=true on agents is measured in smoke mode (and in the phases below); on the DAG it
  // would add ~5 minutes. FLEET_BENCH_SHAPES=dag,chain picks shapes (by the first word of their name).
  const pick = (process.env.FLEET_BENCH_SHAPES ?? '').split(',').filter(Boolean);
  const all = [
    { graph: ws.chain(6, 1), ms: [1, 8], variants: {} },
    { graph: ws.fan(16, 0.5, 1.5), ms: [3, 8], variants: {} },
    { graph: ws.forkJoin(2, 8, 1, 0.5), ms: [3, 8], variants: {} },
    { graph: dag, ms: [3, 8], variants: { 3: [ISOLATION, DAEMON] }, headline: true },
  ];
  return pick.length ? all.filter((s) => pick.some((p) => s.graph.name.toLowerCase().replace(/^\d+-task /, '').startsWith(p))) : all;
}

/** Removes what an earlier measurement left in a checkout (Nx's caches, Fleet's state), as a fresh CI job has none. */
function freshen(dir) {
  for (const sub of ['.nx', '.fleet', '.home']) rmSync(join(dir, sub), { recursive: true, force: true });
}

/** Stops the Nx daemons a measurement started in `dir` (their pids are in each workspace-data folder). */
function stopDaemons(dir) {
  const found = [];
  const walk = (d, depth) => {
    if (depth > 6 || !existsSync(d)) return;
    let entries = [];
    try {
      entries = require('node:fs').readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'projects') walk(p, depth + 1);
      else if (e.name === 'server-process.json') found.push(p);
    }
  };
  walk(join(dir, '.fleet'), 0);
  walk(join(dir, '.nx'), 0);
  for (const file of found) {
    try {
      const pid = JSON.parse(readFileSync(file, 'utf8')).processId;
      if (Number.isInteger(pid) && cl.processAlive(pid)) process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  return found.length;
}

/** Agent logs → per-task spans from each `[fleet] running X` line to its `X succeeded|failed` line. */
function agentSpans(agent, graph) {
  const seconds = new Map(graph.tasks.map((t) => [`${t.id}:${ws.TARGET}`, t.seconds]));
  const open = new Map();
  const spans = [];
  for (const { at, text } of agent.lines) {
    let m = /^\[fleet\] running (\S+) \(attempt/.exec(text);
    if (m) {
      open.set(m[1], at);
      continue;
    }
    m = /^\[fleet\] (\S+) (succeeded|failed)/.exec(text);
    if (m && open.has(m[1])) {
      const wall = (at - open.get(m[1])) / 1000;
      spans.push({ task: m[1], agent: agent.name, start: open.get(m[1]), end: at, wall, overhead: wall - (seconds.get(m[1]) ?? 0), ok: m[2] === 'succeeded' });
      open.delete(m[1]);
    }
  }
  return spans;
}

async function measureFleet(ctx, m, variant = null) {
  const daemon = Boolean(variant && variant.env.NX_DAEMON === 'true');
  const { coordinator, graph, main, agents, log } = ctx;
  const runId = `bench-${graph.name.replace(/\W+/g, '-')}-m${m}${variant ? `-${variant.label.replace(/\W+/g, '-')}` : ''}-${randomBytes(3).toString('hex')}`;
  const salt = randomBytes(8).toString('hex');
  const common = { FLEET_URL: coordinator.url, FLEET_TOKEN: coordinator.token, FLEET_RUN_ID: runId, FLEET_BRANCH: 'main', BENCH_SALT: salt };
  freshen(main);
  for (let i = 0; i < m; i++) freshen(agents[i]);
  const mainEnv = cl.isolatedEnv(main, common);
  const budgetMs = ctx.budgetMs(m);
  const t0 = Date.now();
  const open = await cl.runNode('start-ci-run', [CLI, 'start-ci-run', '--agents', String(m)], { cwd: main, env: mainEnv, logFile: join(ctx.logs, `${runId}-main.log`) }, 60_000);
  if (open.code !== 0) throw new Error(`start-ci-run failed (${open.code}): ${open.output.slice(-2000)}`);
  cl.adopt(cl.heartbeatPid(main));
  const procs = [];
  for (let i = 0; i < m; i++) {
    const env = cl.isolatedEnv(agents[i], { ...common, ...(variant ? variant.env : {}) });
    procs.push(
      cl.startNode(`agent-${i + 1}`, [CLI, 'start-agent', '--name', `agent-${i + 1}`, '--parallel', '1', '--join-timeout', '60', '--idle-timeout', '300'], {
        cwd: agents[i],
        env,
        logFile: join(ctx.logs, `${runId}-agent-${i + 1}.log`),
      }),
    );
  }
  const joinedAt = cl.waitForAgents(coordinator, runId, m, 60_000);
  const run = await cl.runNode('nx run-many', [NX(main), 'run-many', '-t', ws.TARGET, '--all', '--outputStyle=stream'], { cwd: main, env: mainEnv, logFile: join(ctx.logs, `${runId}-main.log`) }, budgetMs);
  const joined = await joinedAt;
  const stop = await cl.runNode('stop-all-agents', [CLI, 'stop-all-agents'], { cwd: main, env: mainEnv, logFile: join(ctx.logs, `${runId}-main.log`) }, 60_000);
  await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 30_000))]);
  for (const p of procs) if (!p.hasExited) await p.stop();
  const hb = cl.heartbeatPid(main);
  if (hb && cl.processAlive(hb)) process.kill(hb, 'SIGTERM');
  for (let i = 0; i < m; i++) stopDaemons(agents[i]);
  const spans = procs.flatMap((p) => agentSpans(p, graph));
  const ok = run.code === 0 && stop.code === 0 && procs.every((p) => p.code === 0) && spans.length === graph.tasks.length && spans.every((s) => s.ok);
  if (!ok) {
    log(`fleet m=${m}: nx exit ${run.code}${run.timedOut ? ' (timed out)' : ''}, stop-all-agents ${stop.code}, agents ${procs.map((p) => p.code).join(',')}, ${spans.length}/${graph.tasks.length} tasks on agents; logs in ${ctx.logs}`);
  }
  // idle gaps: from an agent's completion to its next task's start (dispatch + the agent's own loop)
  const gaps = [];
  for (const p of procs) {
    const mine = spans.filter((s) => s.agent === p.name).sort((a, b) => a.start - b.start);
    for (let i = 1; i < mine.length; i++) gaps.push((mine[i].start - mine[i - 1].end) / 1000);
  }
  return {
    ok,
    makespan: (run.endedAt - t0) / 1000,
    fromJoined: joined ? (run.endedAt - joined) / 1000 : null,
    joinDelay: joined ? (joined - t0) / 1000 : null,
    overheads: spans.map((s) => s.overhead),
    spans,
    perAgent: procs.map((p) => spans.filter((s) => s.agent === p.name).length),
    gaps,
  };
}

/** Static binning: m matrix jobs at once, each `nx run-many --projects <its share>` (dependencies included, as Nx does). */
async function measureBinning(ctx, m) {
  const { graph, bases } = ctx;
  const salt = randomBytes(8).toString('hex');
  const shares = ws.roundRobin(graph, m);
  for (let j = 0; j < m; j++) freshen(bases[j]);
  const t0 = Date.now();
  const jobs = shares.map((share, j) =>
    cl.runNode(
      `bin-${j + 1}`,
      [NX(bases[j]), 'run-many', '-t', ws.TARGET, '--projects', share.join(','), '--parallel=1', '--skip-nx-cache', '--outputStyle=stream'],
      { cwd: bases[j], env: cl.isolatedEnv(bases[j], { BENCH_SALT: salt }), logFile: join(ctx.logs, `binning-${graph.name.replace(/\W+/g, '-')}-m${m}-job${j + 1}.log`) },
      ctx.budgetMs(1),
    ),
  );
  const results = await Promise.all(jobs);
  const ok = results.every((r) => r.code === 0);
  if (!ok) ctx.log(`binning m=${m}: exit codes ${results.map((r) => r.code).join(',')}`);
  const sizes = shares.map((share) => ws.closure(graph, share).size);
  const work = shares.map((share) => [...ws.closure(graph, share)].reduce((a, id) => a + graph.tasks.find((t) => t.id === id).seconds, 0));
  return { ok, makespan: Math.max(...results.map((r) => r.endedAt)) / 1000 - t0 / 1000, jobs: results.map((r) => r.seconds), sizes, work };
}

/** One machine: `nx run-many --all --parallel=m`. */
async function measureOne(ctx, m) {
  const { graph, bases } = ctx;
  freshen(bases[0]);
  const r = await cl.runNode(
    'one-machine',
    [NX(bases[0]), 'run-many', '-t', ws.TARGET, '--all', `--parallel=${m}`, '--skip-nx-cache', '--outputStyle=stream'],
    { cwd: bases[0], env: cl.isolatedEnv(bases[0], { BENCH_SALT: randomBytes(8).toString('hex') }), logFile: join(ctx.logs, `one-${graph.name.replace(/\W+/g, '-')}-m${m}.log`) },
    ctx.budgetMs(1),
  );
  if (r.code !== 0) ctx.log(`one machine m=${m}: exit ${r.code}`);
  return { ok: r.code === 0, makespan: r.seconds };
}

/** The phases of one `nx run` on an agent checkout, timed from outside (each the median of `reps`). */
function phaseTimings(dir, graph, reps) {
  const task = graph.tasks.find((t) => t.deps.length === 0);
  // the task with the most dependencies whose whole closure sleeps at most 20 s (so warming it up is quick)
  const closureWork = (t) => [...ws.closure(graph, [t.id])].reduce((a, id) => a + graph.tasks.find((x) => x.id === id).seconds, 0);
  const deep = [...graph.tasks].filter((t) => closureWork(t) <= 20).sort((a, b) => ws.closure(graph, [b.id]).size - ws.closure(graph, [a.id]).size)[0];
  const time = (args, extra = {}) => {
    const samples = [];
    for (let i = 0; i < reps; i++) {
      const env = cl.isolatedEnv(dir, { BENCH_SALT: `phase-${i}-${randomBytes(4).toString('hex')}`, ...extra });
      const t = process.hrtime.bigint();
      execFileSync(process.execPath, args, { cwd: dir, env, stdio: 'ignore', timeout: 120_000 });
      samples.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    return quantile(samples, 0.5);
  };
  freshen(dir);
  const rows = [];
  rows.push(['node start (`node -e 0`)', time(['-e', '0'])]);
  rows.push(['Nx start + project graph (`nx show projects`, graph cached after the first)', time([NX(dir), 'show', 'projects'])]);
  const one = time([NX(dir), 'run', `${task.id}:${ws.TARGET}`, '--skip-nx-cache', '--excludeTaskDependencies']) - task.seconds;
  rows.push([`\`nx run ${task.id}:${ws.TARGET}\` minus its ${task.seconds} s sleep (no cache, no daemon)`, one]);
  const depsCount = ws.closure(graph, [deep.id]).size - 1;
  // the deep task with its dependencies already in the local cache: what hashing and checking them costs
  const warmEnv = { BENCH_SALT: 'phase-warm' };
  execFileSync(process.execPath, [NX(dir), 'run', `${deep.id}:${ws.TARGET}`, '--parallel=8'], { cwd: dir, env: cl.isolatedEnv(dir, warmEnv), stdio: 'ignore', timeout: 120_000 });
  const t = process.hrtime.bigint();
  execFileSync(process.execPath, [NX(dir), 'run', `${deep.id}:${ws.TARGET}`], { cwd: dir, env: cl.isolatedEnv(dir, warmEnv), stdio: 'ignore', timeout: 120_000 });
  rows.push([`\`nx run ${deep.id}:${ws.TARGET}\` with its ${depsCount} dependencies as local cache hits, itself a hit too`, Number(process.hrtime.bigint() - t) / 1e9]);
  execFileSync(process.execPath, [NX(dir), 'show', 'projects'], { cwd: dir, env: cl.isolatedEnv(dir, { NX_DAEMON: 'true' }), stdio: 'ignore', timeout: 120_000 });
  const withDaemon = time([NX(dir), 'run', `${task.id}:${ws.TARGET}`, '--skip-nx-cache', '--excludeTaskDependencies'], { NX_DAEMON: 'true' }) - task.seconds;
  rows.push([`the same \`nx run ${task.id}:${ws.TARGET}\` with NX_DAEMON=true (daemon already up)`, withDaemon]);
  stopDaemons(dir);
  const runArgs = [NX(dir), 'run', `${task.id}:${ws.TARGET}`, '--skip-nx-cache', '--excludeTaskDependencies'];
  const noIsolation = time(runArgs, { NX_ISOLATE_PLUGINS: 'false' }) - task.seconds;
  rows.push([`the same with NX_ISOLATE_PLUGINS=false (Nx's default plugins loaded in-process, not in 3 plugin-worker processes; what agents run since agentNxEnv sets it)`, noIsolation]);
  // CPU, not wall: on 2 cores the agents' `nx run`s compete for it, so it bounds the makespan
  const cpu = (args, extra) => {
    const samples = [];
    for (let i = 0; i < reps; i++) {
      const env = cl.isolatedEnv(dir, { BENCH_SALT: `cpu-${i}-${randomBytes(4).toString('hex')}`, ...extra });
      const script = `"$0" "$@" >/dev/null 2>&1; times`;
      const out = execFileSync('bash', ['-c', script, process.execPath, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
      // `times` prints the shell's own user/system times, then its children's
      const children = out.trim().split('\n').pop().trim().split(/\s+/).map((x) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(x);
        if (!m) throw new Error(`unexpected output of bash times: ${JSON.stringify(out)}`);
        return Number(m[1]) * 60 + Number(m[2]);
      });
      samples.push(children[0] + children[1]);
    }
    return quantile(samples, 0.5);
  };
  const cpuPerTask = cpu(runArgs, { NX_ISOLATE_PLUGINS: 'false' });
  rows.push(['CPU time (user + system, with its child processes) of that `nx run` with NX_ISOLATE_PLUGINS=false', cpuPerTask]);
  return { rows, cpuPerTask };
}

async function run({ smoke, log }) {
  const root = mkdtempSync(join(tmpdir(), 'fleet-bench-sched-'));
  const logs = join(root, 'logs');
  log(`working in ${root} (Nx ${NX_VERSION})`);
  const coordinator = await cl.startCoordinator(CLI, join(root, 'coordinator'), randomBytes(16).toString('hex'));
  const results = [];
  let phases = { rows: [], cpuPerTask: NaN };
  try {
    for (const shape of shapes(smoke)) {
      const { graph } = shape;
      const stats = ws.graphStats(graph);
      const dir = join(root, graph.name.replace(/\W+/g, '-'));
      const maxM = Math.max(...shape.ms);
      ws.writeWorkspace(join(dir, 'main'), graph, { repoRoot: REPO, fleetUrl: coordinator.url });
      ws.writeWorkspace(join(dir, 'base-1'), graph, { repoRoot: REPO });
      const agents = [];
      const bases = [join(dir, 'base-1')];
      for (let i = 1; i <= maxM; i++) {
        agents.push(join(dir, `agent-${i}`));
        ws.copyCheckout(join(dir, 'main'), agents[i - 1], REPO);
        if (i > 1) {
          bases.push(join(dir, `base-${i}`));
          ws.copyCheckout(join(dir, 'base-1'), bases[i - 1], REPO);
        }
      }
      // bounded: a generous multiple of the sequential time
      const budgetMs = () => Math.max(60_000, (stats.total + stats.tasks * 6) * 3 * 1000);
      const ctx = { coordinator, graph, main: join(dir, 'main'), agents, bases, logs, log, budgetMs };
      log(`${graph.name}: ${stats.tasks} tasks, total work ${stats.total} s, critical path ${stats.critical} s`);
      const rows = [];
      for (const m of shape.ms) {
        const fleet = await measureFleet(ctx, m);
        log(`  m=${m} fleet ${f1(fleet.makespan)} s (from joined ${f1(fleet.fromJoined)} s), per-task overhead p50 ${f2(quantile(fleet.overheads, 0.5))} s`);
        const one = await measureOne(ctx, m);
        // with one job, static binning is the same command as one machine at --parallel=1
        const binning = m === 1 ? { ...one, jobs: [one.makespan], sizes: [stats.tasks], same: true } : await measureBinning(ctx, m);
        log(`  m=${m} binning ${f1(binning.makespan)} s, one machine ${f1(one.makespan)} s`);
        const variants = [];
        for (const variant of shape.variants[m] ?? []) {
          const v = await measureFleet(ctx, m, variant);
          v.label = variant.label;
          variants.push(v);
          log(`  m=${m} fleet, agents with ${variant.label}: ${f1(v.makespan)} s, per-task overhead p50 ${f2(quantile(v.overheads, 0.5))} s`);
        }
        rows.push({ m, lb: stats.lb(m), fleet, binning, one, variants });
      }
      results.push({ shape, stats, rows });
      if (shape.headline || smoke) phases = phaseTimings(agents[0], graph, smoke ? 1 : 3);
    }
  } finally {
    await coordinator.proc.stop();
    await cl.stopAll();
    if (process.env.FLEET_BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  }
  return report(results, phases, smoke);
}

/**
 * Why a process per task cannot reach the efficiency target, in this run's numbers: each
 * agent slot runs its tasks one after another, so a slot's busy time is its tasks' work
 * plus one per-task overhead each; the overhead a task may cost at efficiency 0.95 is
 * (m · LB / 0.95 − total work) / n, against the uncontended overhead of one `nx run`.
 */
function budgetLines(headline, phases) {
  const g = headline.shape.graph;
  const n = g.tasks.length;
  const work = g.tasks.reduce((a, t) => a + t.seconds, 0);
  const perRun = phases.rows.find(([label]) => label.startsWith('the same with NX_ISOLATE_PLUGINS=false'));
  const overhead = perRun ? perRun[1] : NaN;
  const lines = [];
  for (const r of headline.rows) {
    const budget = (r.m * (r.lb / 0.95) - work) / n;
    const cap = (r.lb * r.m) / (work + n * overhead);
    lines.push(
      `- m = ${r.m}: at efficiency 0.95 the makespan is at most ${f1(r.lb / 0.95)} s, so the ${r.m} slots have ${f1(r.m * (r.lb / 0.95))} s ` +
        `for ${f1(work)} s of work and ${n} tasks: **${f2(budget)} s of overhead per task**. One uncontended \`nx run\` costs ` +
        `${f2(overhead)} s beyond its sleep, so with a process per task the efficiency cannot exceed ${f2(Math.min(1, cap))} here ` +
        `(LB · m / (work + n · overhead)), on any number of cores; measured ${f2(r.lb / r.fleet.makespan)}.`,
    );
  }
  return [
    '**The budget, and what would close the gap.** With one `nx run` process per task the 0.95 target is out of reach by construction:',
    '',
    ...lines,
    '',
    `CPU: one such \`nx run\` takes ${f2(phases.cpuPerTask)} s of CPU (user + system with its children), so ${n} of them need ` +
      `${f1(n * phases.cpuPerTask)} s of CPU, ${f1((n * phases.cpuPerTask) / require('node:os').cpus().length)} s of this machine's ` +
      `${require('node:os').cpus().length} cores even with perfect overlap, before any contention. ` +
      'What would close it: a persistent Nx process per agent slot that loads Nx and the project graph once and runs each leased task ' +
      "through Nx's programmatic task runner (paying the start and the graph once per agent instead of once per task; the budget leaves " +
      'only the hash, the cache look-ups and the lease round trip, a few ms each); cheaper and partial, leasing several ready tasks at once ' +
      'and running them as one `nx run-many` (amortises the start over the batch but holds tasks back from idle agents, which costs the ' +
      'critical path); or the Nx daemon per slot (`NX_DAEMON=true` row: the graph stays warm, Node and Nx still start per task).',
  ];
}

function report(results, phases, smoke) {
  const md = [];
  const load = require('node:os').loadavg().map((l) => l.toFixed(2)).join(' ');
  md.push(
    `Synthetic workspaces on Nx ${NX_VERSION} (the version this repository pins in package.json, one of those e2e/support/nx-versions.ts tests): one project per task, ` +
      'one cacheable `nx:run-commands` target `work` that runs `sleep <seconds>` (sleeping, so the 2 cores do not distort the schedule), ' +
      "dependencies as `implicitDependencies` with Nx's usual `dependsOn: ['^work']`. Every measurement sets a new `BENCH_SALT` " +
      '(an env input of the target): new hashes, so no local or remote cache hit shortens it; the baselines also pass `--skip-nx-cache`, ' +
      'and every checkout starts without `.nx`/`.fleet` state, as a fresh CI job does.',
    '',
    '- **Fleet**: one coordinator (SQLite), m agents on this machine, each `npx nx-fleet start-agent --parallel 1` in its own checkout copy; ' +
      'makespan from `start-ci-run` to the exit of main\'s `nx run-many -t work --all` (agents are started right after start-ci-run), ' +
      'and separately from the moment the coordinator listed all m agents as joined.',
    '- **Static binning**: m CI matrix jobs at once, job j running `nx run-many -t work --projects <every m-th project from j> --parallel=1` ' +
      "in its own checkout. A share's projects need projects of other shares: like a real binned CI without a shared cache, each job " +
      "builds them too (Nx's `^work` dependsOn), so the jobs repeat work. Makespan = the slowest job. With m = 1 this is the same " +
      'command as one machine at --parallel=1 and is not run twice.',
    '- **One machine**: `nx run-many -t work --all --parallel=m`.',
    '- LB = max(critical path, total work / m); efficiency = LB / makespan; overhead = makespan − LB.',
    `- Load average when this section was written: ${load}.`,
    '',
  );
  for (const { shape, stats, rows } of results) {
    md.push(`### ${shape.graph.name}`, '', `${shape.graph.description}. ${stats.tasks} tasks, total work ${f1(stats.total)} s, critical path ${f1(stats.critical)} s, median task ${f2(stats.median)} s, longest ${f2(stats.max)} s.`, '');
    md.push(
      '| m | LB s | Fleet s | Fleet from joined s | Fleet eff. | Fleet overhead s | binning s (jobs) | binning eff. | one machine s | one-machine eff. | Fleet / binning | agent per-task overhead p50 / p90 s | agent idle gap p50 s |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of rows) {
      const line = (label, fleet) =>
        `| ${label} | ${f1(r.lb)} | ${f1(fleet.makespan)}${fleet.ok ? '' : ' (failed)'} | ${f1(fleet.fromJoined)} | ${f2(r.lb / fleet.makespan)} | ${f1(fleet.makespan - r.lb)} | ` +
        `${f1(r.binning.makespan)}${r.binning.same ? ' (= one machine)' : ` (${r.binning.jobs.map(f1).join(', ')}; ${r.binning.sizes.join('/')} tasks)`}${r.binning.ok ? '' : ' (failed)'} | ` +
        `${f2(r.lb / r.binning.makespan)} | ${f1(r.one.makespan)}${r.one.ok ? '' : ' (failed)'} | ${f2(r.lb / r.one.makespan)} | ${f2(fleet.makespan / r.binning.makespan)} | ` +
        `${f2(quantile(fleet.overheads, 0.5))} / ${f2(quantile(fleet.overheads, 0.9))} | ${f2(quantile(fleet.gaps, 0.5))} |`;
      md.push(line(String(r.m), r.fleet));
      for (const v of r.variants) md.push(line(`${r.m}, agents with ${v.label}`, v));
    }
    md.push('');
  }
  const targets = [];
  const headline = results.find((r) => r.shape.headline) ?? results[results.length - 1];
  for (const r of headline.rows.filter((row) => smoke || row.m === 3 || row.m === 8)) {
    const eff = r.lb / r.fleet.makespan;
    targets.push({
      target: `efficiency ≥ 0.95 on the ${headline.shape.graph.name} at ${r.m} agents`,
      measured: `${f2(eff)} (LB ${f1(r.lb)} s, Fleet ${f1(r.fleet.makespan)} s)`,
      met: r.fleet.ok && eff >= 0.95,
      note: eff >= 0.95 ? '' : `short by ${f2(0.95 - eff)}; ${f1(r.fleet.makespan - r.lb)} s over LB, see the per-task overhead below`,
    });
    const ratio = r.fleet.makespan / r.binning.makespan;
    targets.push({
      target: `Fleet makespan ≤ 0.75 × static binning at ${r.m} agents (${headline.shape.graph.name})`,
      measured: `${f2(ratio)} (${f1(r.fleet.makespan)} s vs ${f1(r.binning.makespan)} s)`,
      met: r.fleet.ok && r.binning.ok && ratio <= 0.75,
      note:
        ratio <= 0.75
          ? ''
          : `binning's slowest job ran ${f1(Math.max(...(r.binning.work ?? [headline.shape.graph.tasks.reduce((a, t) => a + t.seconds, 0)])))} s of sleeps (its share plus the dependencies it rebuilds), ` +
            `Fleet's slots ${f1(headline.shape.graph.tasks.reduce((a, t) => a + t.seconds, 0) / r.m)} s each plus ${f2(mean(r.fleet.overheads))} s ` +
            `of per-task overhead × ${f1(headline.shape.graph.tasks.length / r.m)} tasks: a job's \`nx run-many\` starts Nx once, an agent once per task`,
    });
  }
  // per m: the overhead is CPU time shared by m agents on this machine's cores, so it grows with m
  const perRow = headline.rows.flatMap((r) => [
    [`m = ${r.m}`, r.fleet.overheads],
    ...r.variants.map((v) => [`m = ${r.m} ${v.label}`, v.overheads]),
  ]);
  targets.push({
    target: 'per-task agent overhead (agent wall time per task minus its sleep), measured',
    measured: perRow.map(([label, xs]) => `${label}: p50 ${f2(quantile(xs, 0.5))} s`).join('; '),
    met: true,
    note: 'a measurement, not a target',
  });
  md.push('### Per-task overhead on an agent', '');
  md.push('Agent wall time of a task (from its `[fleet] running` line to its `succeeded` line) minus the task\'s sleep, on the ' + headline.shape.graph.name + ':', '');
  md.push('| m | tasks | p50 s | p90 s | max s | mean s | per-agent tasks |', '|---|---|---|---|---|---|---|');
  for (const r of headline.rows) {
    for (const [label, f] of [[String(r.m), r.fleet], ...r.variants.map((v) => [`${r.m}, ${v.label}`, v])]) {
      if (!f) continue;
      md.push(`| ${label} | ${f.overheads.length} | ${f2(quantile(f.overheads, 0.5))} | ${f2(quantile(f.overheads, 0.9))} | ${f2(Math.max(...f.overheads))} | ${f2(mean(f.overheads))} | ${f.perAgent.join(', ')} |`);
    }
  }
  const depsOf = new Map(headline.shape.graph.tasks.map((t) => [`${t.id}:${ws.TARGET}`, ws.closure(headline.shape.graph, [t.id]).size - 1]));
  const buckets = [[0, 0], [1, 10], [11, 50], [51, 100], [101, 1e9]];
  md.push('', 'The same overhead by how many (transitive) dependencies the task has: the agent runs `nx run <task>`, so its Nx hashes and looks up every dependency in the cache (restoring from the relay the ones this agent has not run or fetched yet):', '');
  // one column per measured row (each m, each variant at its m): overheads grow with m, so only same-m columns compare
  const columns = headline.rows.flatMap((r) => [
    [`m = ${r.m}`, r.fleet.spans],
    ...r.variants.map((v) => [`m = ${r.m}, ${v.label}`, v.spans]),
  ]);
  md.push(`| dependencies | tasks per run${columns.map(([l]) => ` | mean s (${l})`).join('')} |`, `|---|---${columns.map(() => '|---').join('')}|`);
  for (const [lo, hi] of buckets) {
    const pick = (spans) => spans.filter((sp) => depsOf.get(sp.task) >= lo && depsOf.get(sp.task) <= hi).map((sp) => sp.overhead);
    const picked = columns.map(([, spans]) => pick(spans));
    const count = picked[0].length;
    if (count) md.push(`| ${hi >= 1e9 ? `${lo}+` : lo === hi ? String(lo) : `${lo}–${hi}`} | ${count}${picked.map((o) => ` | ${o.length ? f2(mean(o)) : '–'}`).join('')} |`);
  }
  md.push('', 'Phases of one `nx run` in an agent checkout, timed from outside (median of 3; no Fleet involved):', '', '| phase | s |', '|---|---|');
  for (const [label, s] of phases.rows) md.push(`| ${label} | ${f2(s)} |`);
  md.push(
    '',
    '**What dominates it.** An agent runs every leased task as its own `nx run <task>` process ' +
      '(packages/nx-fleet/src/agent/agent.ts, startNx). Each one starts Node, loads Nx, builds the project graph, hashes the task ' +
      'and all its dependencies, asks the relay for each dependency (a local-cache hit after the agent has seen it once, else a GET ' +
      'restored from the coordinator) and for the task itself (a miss), runs the command, PUTs the result and exits; then the agent ' +
      'completes the lease and long-polls for the next. The sleep is the only useful part. `NX_PERF_LOGGING=true` on one such `nx run` ' +
      'showed where the time goes: on Nx 20 most of the project graph is `Load Nx Plugin` for the three default plugins ' +
      '(project-json, package-json, js), which Nx starts by default each in its own plugin-isolation worker process; agents now set ' +
      '`NX_ISOLATE_PLUGINS=false` for their tasks (compare the `NX_ISOLATE_PLUGINS=true` rows, the earlier behaviour); hashing is tens of ' +
      'milliseconds; the Fleet side (lease, relay GET/PUT, completion) is the rest and grows with the number of dependencies the task ' +
      'drags in (table above). On 2 cores with m agents, m such processes compete for the CPU: the overhead is CPU time, so it grows ' +
      'with m (the sleeps do not).',
    '',
    ...budgetLines(headline, phases),
    '',
  );
  return { markdown: md.join('\n'), targets, results };
}

module.exports = { name: 'scheduling', title: 'Scheduling: Fleet vs static binning vs one machine', run, report };
