'use strict';
/**
 * Synthetic Nx workspaces for the scheduling bench: one project per task, each with one
 * cacheable `nx:run-commands` target (`work`) that only sleeps for a set duration (so 2 CPU
 * cores do not decide the wall time), dependencies as implicitDependencies with
 * `dependsOn: ['^work']` (Nx's usual default), and a salt file among the inputs so every
 * measurement hashes anew (no local or remote cache hit can shorten it).
 */
const { prng } = require('./prng');
const { execFileSync } = require('node:child_process');
const { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const TARGET = 'work';


/** A standard normal draw (Box–Muller) from a uniform source. */
function normal(rand) {
  const u = Math.max(rand(), 1e-12);
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const pad = (i, n) => String(i).padStart(String(n - 1).length, '0');
const round2 = (x) => Math.round(x * 100) / 100;

/**
 * A graph is { name, description, tasks: [{ id, seconds, deps: [ids] }] } (deps before dependants).
 */
function chain(n, seconds) {
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push({ id: `c${pad(i, n)}`, seconds, deps: i ? [`c${pad(i - 1, n)}`] : [] });
  return { name: 'chain', description: `a chain of ${n} tasks of ${seconds} s`, tasks };
}

function fan(n, rootSeconds, leafSeconds) {
  const tasks = [{ id: 'root', seconds: rootSeconds, deps: [] }];
  for (let i = 0; i < n; i++) tasks.push({ id: `leaf${pad(i, n)}`, seconds: leafSeconds, deps: ['root'] });
  return { name: 'wide fan', description: `one ${rootSeconds} s root, then ${n} independent ${leafSeconds} s tasks`, tasks };
}

/** `stages` times: a fork of `width` tasks of `seconds`, joined by one task of `joinSeconds`. */
function forkJoin(stages, width, seconds, joinSeconds) {
  const tasks = [];
  let prev = [];
  for (let s = 0; s < stages; s++) {
    const fork = [];
    for (let i = 0; i < width; i++) {
      const id = `s${s}f${pad(i, width)}`;
      tasks.push({ id, seconds, deps: prev });
      fork.push(id);
    }
    const join = `s${s}join`;
    tasks.push({ id: join, seconds: joinSeconds, deps: fork });
    prev = [join];
  }
  return {
    name: 'fork-join',
    description: `${stages} stages of ${width} parallel ${seconds} s tasks joined by one ${joinSeconds} s task`,
    tasks,
  };
}

/**
 * A realistic DAG: `n` tasks in `layers` layers (libraries at the bottom, apps on top); each
 * task above layer 0 depends on 1–3 tasks of the layers below (mostly the one just below).
 * Durations are log-normal (μ = 0, σ), a heavy tail, scaled so that they sum to `totalSeconds`,
 * clamped to [minSeconds, maxSeconds] (then rescaled), rounded to 10 ms.
 */
function realisticDag({ n, layers, totalSeconds, sigma, minSeconds, maxSeconds, seed }) {
  const rand = prng(seed);
  const layerOf = [];
  for (let i = 0; i < n; i++) layerOf.push(Math.min(layers - 1, Math.floor((i * layers) / n)));
  const ids = Array.from({ length: n }, (_, i) => `t${pad(i, n)}`);
  const byLayer = Array.from({ length: layers }, () => []);
  ids.forEach((id, i) => byLayer[layerOf[i]].push(i));
  let raw = ids.map(() => Math.exp(sigma * normal(rand)));
  for (let k = 0; k < 5; k++) {
    const scale = totalSeconds / raw.reduce((a, b) => a + b, 0);
    raw = raw.map((x) => Math.min(maxSeconds, Math.max(minSeconds, x * scale)));
  }
  const tasks = ids.map((id, i) => {
    const L = layerOf[i];
    const deps = new Set();
    if (L > 0) {
      const k = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < k; j++) {
        const below = rand() < 0.7 ? L - 1 : Math.floor(rand() * L);
        const pool = byLayer[below];
        deps.add(ids[pool[Math.floor(rand() * pool.length)]]);
      }
    }
    return { id, seconds: round2(raw[i]), deps: [...deps] };
  });
  return {
    name: `${n}-task DAG`,
    description:
      `${n} tasks in ${layers} layers, each depending on 1–3 tasks below; durations log-normal (σ = ${sigma}) ` +
      `scaled to ${totalSeconds} s of work, clamped to [${minSeconds}, ${maxSeconds}] s; seed ${seed}`,
    tasks,
  };
}

/** total work, critical path (longest path, task durations included) and LB for m machines. */
function graphStats(graph) {
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  const finish = new Map();
  const end = (t) => {
    if (finish.has(t.id)) return finish.get(t.id);
    let start = 0;
    for (const d of t.deps) start = Math.max(start, end(byId.get(d)));
    const f = start + t.seconds;
    finish.set(t.id, f);
    return f;
  };
  let critical = 0;
  let total = 0;
  let max = 0;
  for (const t of graph.tasks) {
    critical = Math.max(critical, end(t));
    total += t.seconds;
    max = Math.max(max, t.seconds);
  }
  const sorted = graph.tasks.map((t) => t.seconds).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { tasks: graph.tasks.length, total: round2(total), critical: round2(critical), max, median, lb: (m) => Math.max(critical, total / m) };
}

/** Round-robin shares of the projects, as a CI matrix splits them: job j gets tasks j, j+m, j+2m, … */
function roundRobin(graph, m) {
  const shares = Array.from({ length: m }, () => []);
  graph.tasks.forEach((t, i) => shares[i % m].push(t.id));
  return shares;
}

/** Every task a share needs (its own and, transitively, their dependencies): what a binned job really runs. */
function closure(graph, ids) {
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  const seen = new Set();
  const visit = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const d of byId.get(id).deps) visit(d);
  };
  ids.forEach(visit);
  return seen;
}

/**
 * Writes the workspace into `dir` (created), links `node_modules` to the repository's (nx
 * 20.8.4 and, through the npm workspace link, nx-fleet) and commits it. `fleetUrl` set: the
 * nx-fleet tasks runner is configured (what `nx g nx-fleet:init` writes on Nx 19–20); unset:
 * Nx's default runner (the baselines).
 */
function writeWorkspace(dir, graph, { repoRoot, fleetUrl }) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fleet-bench', private: true }, null, 2));
  writeFileSync(join(dir, '.gitignore'), 'node_modules\n.nx\n.fleet\n.home\nsalt.txt\n');
  const nxJson = {
    targetDefaults: {
      [TARGET]: { cache: true, dependsOn: [`^${TARGET}`], inputs: ['{projectRoot}/**/*', { env: 'BENCH_SALT' }], outputs: [] },
    },
  };
  if (fleetUrl) nxJson.tasksRunnerOptions = { default: { runner: 'nx-fleet', options: { url: fleetUrl } } };
  writeFileSync(join(dir, 'nx.json'), JSON.stringify(nxJson, null, 2));
  for (const t of graph.tasks) {
    const root = join(dir, 'projects', t.id);
    mkdirSync(root, { recursive: true });
    const project = {
      name: t.id,
      root: `projects/${t.id}`,
      implicitDependencies: t.deps,
      targets: { [TARGET]: { executor: 'nx:run-commands', options: { command: `sleep ${t.seconds}` } } },
    };
    writeFileSync(join(root, 'project.json'), JSON.stringify(project, null, 2));
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const git = (...args) => execFileSync('git', args, { cwd: dir, stdio: 'ignore', timeout: 60_000 });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=Fleet Bench', '-c', 'user.email=bench@fleet.invalid', 'commit', '-q', '-m', 'synthetic workspace');
}

/** A checkout copy of `from` (git history included; node_modules linked to the same folder). */
function copyCheckout(from, to, repoRoot) {
  if (existsSync(to)) rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, filter: (src) => !/\/(node_modules|\.nx|\.fleet|\.home)$/.test(src) });
  if (!existsSync(join(to, 'node_modules'))) symlinkSync(join(repoRoot, 'node_modules'), join(to, 'node_modules'), 'dir');
}

module.exports = { TARGET, prng, chain, fan, forkJoin, realisticDag, graphStats, roundRobin, closure, writeWorkspace, copyCheckout };
