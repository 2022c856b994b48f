'use strict';
/**
 * Coordinator throughput without Nx (issue 6, bench 2): a real coordinator (SQLite, real
 * HTTP on 127.0.0.1, in a child process so that the load generator does not share its
 * event loop), one run, one execution of N no-op tasks, and simulated agents (one
 * keep-alive undici connection each) that join and then loop lease (long-poll) →
 * complete, as packages/nx-fleet/src/agent/agent.ts does, without running anything.
 */
const {
  startCoordinator,
  CoordinatorConnection,
  independentPlan,
  dagPlan,
  percentile,
  fmt,
  nowMs,
} = require('./lib/coordinator-load');

/**
 * Where a cycle's time goes, from profiling this bench (FLEET_BENCH_CPU_PROF=<dir> runs the
 * coordinator child with --cpu-prof) and timing the SQLite store's methods alone; kept
 * here so that docs/benchmarks.md explains a missed target next to its numbers.
 */
const WHY = [
  '**Why the throughput target is still missed, and what would close it.** Done since the first run (744 cycles/s): a completion ',
  'carries the agent\'s next lease (`leaseNext`, one HTTP request per cycle instead of two); the lease path skips re-reading the run ',
  '(`runTimes`: every agent and current lease, for the time-outs) until core\'s `nextDueAt` says something can be due; and the SQLite ',
  'store commits the calls of one event-loop turn together (group commit: one COMMIT per batch, each call in its own savepoint). ',
  'Also: a completion readies its dependants with two reads whatever the fan-out, one better-sqlite3 transaction function serves ',
  'every call, and the page cache is 32 MiB. Profiled at 10,000 tasks after all of these (FLEET_BENCH_CPU_PROF=<dir> runs the ',
  'coordinator child with --cpu-prof; batch sizes counted in the store): about 4 store calls per cycle, in batches of ~30 calls; of ',
  'the coordinator\'s ~0.6–0.75 ms of CPU per cycle, ~26 % is executing SQL statements (completeLease still runs ~14: the lease and ',
  'task rows, history, results, the agent, the dependants, the execution\'s version and settle check; leaseNext ~6 with the ',
  'retried-elsewhere subquery), ~19 % COMMIT (the batch\'s WAL frames: each cycle dirties ~10 pages of tasks, its three status ',
  'indexes, leases, history and results), and most of the rest HTTP (fastify routing and hooks, auth, JSON parse, schema ',
  'validation, the socket write; fastify\'s per-request AsyncResource.bind alone is ~2.5 %). At ≤ 0.5 ms of coordinator CPU per ',
  'cycle, what would close the rest: (1) completion as a few set-based statements (history and results as one INSERT per batch); ',
  "(2) fewer index entries moved per status change (the three status indexes of tasks could be one); ",
  '(3) keeping the ready queue of each run in memory in front of SQLite (the rows stay the truth; multi-process PostgreSQL would keep ',
  'SELECT … FOR UPDATE SKIP LOCKED). On this 2-core machine the 50 simulated agents (undici, JSON) take most of the other core, ',
  'so wall-clock cycles/s is also bounded by the load generator: see the load average in the header.',
].join('');

/** How long an agent's lease long-poll may be held when nothing is ready (small: the benchmark never idles long). */
const LEASE_WAIT_MS = 250;

const SHAPES = {
  dag: { plan: dagPlan, label: 'DAG (build → test, lint; builds depend on 0–3 earlier builds)' },
  independent: { plan: independentPlan, label: 'independent tasks' },
};

/**
 * One measured execution on a fresh coordinator: accept the plan, then let `agents` agents
 * lease and complete every task. Resolves to the numbers of that phase.
 */
async function measure({ n, agents, shape, mode, timeLimitMs, warmup = 200, leaseNext = true, log }) {
  const coord = await startCoordinator({ mode });
  const conns = [];
  try {
    const main = new CoordinatorConnection(coord.url, coord.token);
    conns.push(main);
    const agentConns = Array.from({ length: agents }, () => new CoordinatorConnection(coord.url, coord.token));
    conns.push(...agentConns);

    // warm-up in its own run: JIT-compiles planning, leasing and completing (not measured)
    await drive({ main, agentConns: agentConns.slice(0, Math.min(agents, 5)), runId: 'warmup', n: warmup, shape: 'dag', timeLimitMs, measured: false, leaseNext });

    const result = await drive({ main, agentConns, runId: `bench-${shape}-${n}`, n, shape, timeLimitMs, measured: true, coord, leaseNext });
    log(
      `${mode}${leaseNext ? '' : ' (lease and complete apart)'} ${shape} n=${n} agents=${agents}: accepted in ${result.acceptMs.toFixed(0)} ms, ` +
        `${result.cyclesPerSec.toFixed(0)} cycles/s, lease p50 ${fmt(result.lease.p50)} p99 ${fmt(result.lease.p99)}, ` +
        `complete p50 ${fmt(result.complete.p50)} p99 ${fmt(result.complete.p99)}, ` +
        `coordinator CPU ${result.cpuPerCycleUs.toFixed(0)} µs/cycle, ${result.viaCompletion} tasks leased with a completion${result.timedOut ? ' (TIME LIMIT HIT)' : ''}`,
    );
    return { n, agents, shape, mode, leaseNext, ...result };
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await coord.close();
  }
}

async function drive({ main, agentConns, runId, n, shape, timeLimitMs, measured, coord, leaseNext }) {
  await main.json('POST', '/v1/runs', { runId, agents: agentConns.length, mainTimeoutMs: 3_600_000 });
  await Promise.all(
    agentConns.map((c, i) => c.json('POST', `/v1/runs/${runId}/agents`, { agentName: `agent-${i}`, parallel: 1 })),
  );
  const tasks = SHAPES[shape].plan(n, `-${runId.replace(/[^A-Za-z0-9_-]/g, '-')}`);
  const body = JSON.stringify({ executionId: `exec-${runId}`.replace(/[^A-Za-z0-9_-]/g, '-'), command: `nx run-many (${n} tasks)`, tasks });
  const cpuBeforePlan = measured ? await coord.cpu() : null;
  const accepted = await main.json('POST', `/v1/runs/${runId}/executions`, body);
  const cpuAfterPlan = measured ? await coord.cpu() : null;
  if (accepted.body.tasks.length !== n) throw new Error(`the plan came back with ${accepted.body.tasks.length} tasks, not ${n}`);

  const leaseMs = [];
  const completeMs = [];
  let completed = 0;
  let waits = 0;
  let viaCompletion = 0;
  let timedOut = false;
  const started = nowMs();
  const deadline = started + timeLimitMs;
  const loop = async (conn, i) => {
    const agentName = `agent-${i}`;
    // bounded: at most n + a margin of answers per agent, and the deadline
    // the answer that came with the last completion (leaseNext), as agent.ts does
    let next;
    for (let round = 0; round < n * 4 + 1000; round++) {
      if (completed >= n) return;
      if (nowMs() > deadline) {
        timedOut = true;
        return;
      }
      let answer = next;
      next = undefined;
      if (answer === undefined) {
        const leased = await conn.json('POST', `/v1/runs/${runId}/lease`, { agentName, waitMs: LEASE_WAIT_MS });
        answer = leased.body;
        if (answer.action === 'run') leaseMs.push(leased.ms);
      }
      if (answer.action === 'exit') return;
      if (answer.action === 'wait') {
        waits++;
        continue;
      }
      const done = await conn.json('POST', `/v1/leases/${answer.task.leaseId}/complete`, {
        agentName,
        hash: answer.task.hash,
        exitCode: 0,
        durationMs: 1,
        ...(leaseNext ? { leaseNext: true } : {}),
      });
      completeMs.push(done.ms);
      if (!done.body.accepted) throw new Error(`completion of ${answer.task.taskId} was not accepted`);
      completed++;
      if (done.body.next !== undefined && done.body.next.action !== 'wait') {
        next = done.body.next;
        if (next.action === 'run') viaCompletion++;
      }
    }
  };
  await Promise.all(agentConns.map(loop));
  const elapsedMs = nowMs() - started;
  const cpuAfter = measured ? await coord.cpu() : null;
  const cpuUs = (a, b) => b.user + b.system - (a.user + a.system);
  return {
    acceptMs: accepted.ms,
    planBytes: Buffer.byteLength(body),
    acceptCpuMs: measured ? cpuUs(cpuBeforePlan, cpuAfterPlan) / 1000 : NaN,
    completed,
    waits,
    viaCompletion,
    timedOut,
    elapsedMs,
    cyclesPerSec: completed / (elapsedMs / 1000),
    lease: { n: leaseMs.length, p50: percentile(leaseMs, 50), p99: percentile(leaseMs, 99) },
    complete: { n: completeMs.length, p50: percentile(completeMs, 50), p99: percentile(completeMs, 99) },
    cpuPerCycleUs: measured ? cpuUs(cpuAfterPlan, cpuAfter) / Math.max(1, completed) : NaN,
    rssMb: measured ? cpuAfter.rss / 1024 ** 2 : NaN,
  };
}

async function run({ smoke = false, log = () => undefined } = {}) {
  const small = smoke ? 40 : 1_000;
  const large = smoke ? 80 : 10_000;
  const agents = smoke ? 5 : 50;
  // every phase is bounded: past this the agents stop and the row says "(time limit)"
  const timeLimitMs = smoke ? 4_000 : 40_000;
  const warmup = smoke ? 20 : 200;
  const phases = [
    { n: small, shape: 'dag', mode: 'child' },
    { n: large, shape: 'dag', mode: 'child' },
    { n: small, shape: 'independent', mode: 'child' },
    { n: large, shape: 'independent', mode: 'child' },
    ...(smoke ? [] : [{ n: small, shape: 'dag', mode: 'in-process' }]),
    // the protocol before leaseNext: two requests per cycle
    { n: large, shape: 'dag', mode: 'child', leaseNext: false },
  ];
  const results = [];
  for (const phase of phases) results.push(await measure({ ...phase, agents, timeLimitMs, warmup, log }));

  const find = (n, shape, mode = 'child') => results.find((r) => r.n === n && r.shape === shape && r.mode === mode && r.leaseNext);
  const dagLarge = find(large, 'dag');
  const dagSmall = find(small, 'dag');
  const indLarge = find(large, 'independent');
  const indSmall = find(small, 'independent');

  const rows = results.map(
    (r) =>
      `| ${r.mode === 'child' ? 'child process' : 'same process'}${r.leaseNext ? '' : ', lease and complete apart'} | ${r.shape} | ${r.n.toLocaleString('en-US')} | ${r.agents} | ` +
      `${r.acceptMs.toFixed(0)} ms (coordinator CPU ${r.acceptCpuMs.toFixed(0)} ms; ${(r.planBytes / 1024 ** 2).toFixed(1)} MB JSON) | ${r.completed.toLocaleString('en-US')}${r.timedOut ? ' (time limit)' : ''} | ` +
      `**${r.cyclesPerSec.toFixed(0)}** | ${fmt(r.lease.p50)} / ${fmt(r.lease.p99)} | ${fmt(r.complete.p50)} / ${fmt(r.complete.p99)} | ` +
      `${r.cpuPerCycleUs.toFixed(0)} µs | ${r.viaCompletion.toLocaleString('en-US')} | ${r.waits} | ${r.rssMb.toFixed(0)} MB |`,
  );
  const ratio = (a, b) => a / b;
  const flatRatio = Math.max(ratio(dagLarge.cpuPerCycleUs, dagSmall.cpuPerCycleUs), ratio(indLarge.cpuPerCycleUs, indSmall.cpuPerCycleUs));
  const latRatio = Math.max(
    ratio(dagLarge.lease.p50 + dagLarge.complete.p50, dagSmall.lease.p50 + dagSmall.complete.p50),
    ratio(indLarge.lease.p50 + indLarge.complete.p50, indSmall.lease.p50 + indSmall.complete.p50),
  );
  // "flat": within 25 % (noise of a shared 2-core machine), on the coordinator's own CPU per cycle
  const flat = flatRatio <= 1.25;
  const minCycles = Math.min(dagLarge.cyclesPerSec, indLarge.cyclesPerSec);
  const acceptLarge = Math.max(dagLarge.acceptMs, indLarge.acceptMs);
  const cpuLarge = Math.min(dagLarge.cpuPerCycleUs, indLarge.cpuPerCycleUs);

  const markdown = [
    `A real coordinator (\`startServer\` from @fleet/coordinator: SQLite in a temporary data dir, real HTTP on 127.0.0.1, ` +
      `no rate limit), started fresh for each row; ${agents} simulated agents, each with its own keep-alive undici connection, ` +
      `join the run and then loop *lease* (long-poll, \`waitMs\` ${LEASE_WAIT_MS}) → *complete* (exit code 0) until every task ` +
      `of the one execution is done; as agent.ts does, a completion asks for the agent's next task in the same request ` +
      `(\`leaseNext\`), and the agent long-polls only when that answer is "wait" (the "lease and complete apart" row does without, ` +
      `two requests per cycle). No task runs; the agents send no lease heartbeats (a no-op task ends long before the first ` +
      `heartbeat would be due, as with agent.ts). Before each measured execution a ${warmup}-task warm-up run is driven to the end ` +
      `(not counted). "child process" rows run the coordinator in its own Node process (the load generator does not share its ` +
      `event loop); the "same process" row shares it, for comparison. Latencies are the agent's wall time per request ` +
      `(send → last byte), over every request of the row; cycles/s = completed tasks / wall time from the first lease to the last ` +
      `completion. *Coordinator CPU / cycle* is the coordinator process's user+system CPU over the leasing phase divided by the ` +
      `tasks completed (on 2 cores the load generator takes the other core): it is the per-operation cost compared between sizes.`,
    '',
    `Shapes: **dag** = ${SHAPES.dag.label} (${Math.round(large / 3).toLocaleString('en-US')} projects × 3 targets at ${large.toLocaleString('en-US')} tasks); ` +
      `**independent** = ${SHAPES.independent.label}.`,
    '',
    '| coordinator | shape | tasks | agents | plan accepted (POST executions) | completed | lease+complete cycles/s | lease p50 / p99 | complete p50 / p99 | coordinator CPU / cycle | tasks leased with a completion | lease answers "wait" | coordinator RSS |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Per-operation cost from ${small.toLocaleString('en-US')} to ${large.toLocaleString('en-US')} tasks: coordinator CPU per cycle ` +
      `× ${ratio(dagSmall.cpuPerCycleUs > 0 ? dagLarge.cpuPerCycleUs : NaN, dagSmall.cpuPerCycleUs).toFixed(2)} (dag), ` +
      `× ${ratio(indLarge.cpuPerCycleUs, indSmall.cpuPerCycleUs).toFixed(2)} (independent); ` +
      `lease+complete p50 latency × ${ratio(dagLarge.lease.p50 + dagLarge.complete.p50, dagSmall.lease.p50 + dagSmall.complete.p50).toFixed(2)} (dag), ` +
      `× ${ratio(indLarge.lease.p50 + indLarge.complete.p50, indSmall.lease.p50 + indSmall.complete.p50).toFixed(2)} (independent).`,
    '',
    WHY,
  ].join('\n');

  return {
    markdown,
    results,
    targets: [
      {
        target: `≥ 2,000 lease+complete cycles/s on SQLite with ${agents} agents`,
        measured: `${minCycles.toFixed(0)} cycles/s (${large.toLocaleString('en-US')} tasks; dag ${dagLarge.cyclesPerSec.toFixed(0)}, independent ${indLarge.cyclesPerSec.toFixed(0)})`,
        met: minCycles >= 2000,
        note:
          minCycles >= 2000
            ? undefined
            : `${((1 - minCycles / 2000) * 100).toFixed(0)} % short; the coordinator spends ${cpuLarge.toFixed(0)} µs of CPU per cycle, ` +
              `so at that cost one core caps it near ${(1e6 / cpuLarge).toFixed(0)} cycles/s (see "Why" above)`,
      },
      {
        target: `a ${large.toLocaleString('en-US')}-task plan accepted in ≤ 1 s`,
        measured: `${acceptLarge.toFixed(0)} ms (slowest of dag ${dagLarge.acceptMs.toFixed(0)} ms, independent ${indLarge.acceptMs.toFixed(0)} ms)`,
        met: acceptLarge <= 1000,
        note:
          acceptLarge <= 1000
            ? undefined
            : `${(acceptLarge - 1000).toFixed(0)} ms over; the coordinator's own CPU for it was ${Math.max(dagLarge.acceptCpuMs, indLarge.acceptCpuMs).toFixed(0)} ms (the rest is waiting for a core)`,
      },
      {
        target: `per-operation cost flat from ${small.toLocaleString('en-US')} to ${large.toLocaleString('en-US')} tasks`,
        measured: `coordinator CPU per cycle × ${flatRatio.toFixed(2)} (worst shape); p50 latency × ${latRatio.toFixed(2)}`,
        met: flat,
        note: 'flat = within 25 %',
      },
    ],
  };
}

module.exports = { name: 'coordinator', title: 'Coordinator throughput (no Nx)', run, measure };
