'use strict';
/**
 * Helpers of tools/bench/artifacts.js: a real coordinator as a separate process
 * (`nx-fleet serve --port 0`), and its resident memory read from /proc.
 */
const { spawn } = require('node:child_process');
const { readFileSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { Worker } = require('node:worker_threads');

const REPO = resolve(__dirname, '../../..');
const CLI = join(REPO, 'packages/nx-fleet/bin/nx-fleet.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every coordinator still running when the bench process exits is killed (last resort). */
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/**
 * Starts `nx-fleet serve --port 0 --data-dir <dataDir> --token <token>`, reads its URL from
 * the "listening on …" line and waits for GET /healthz; every wait is bounded.
 */
async function startCoordinator({ dataDir, token, log, timeoutMs = 30_000 }) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--token', token], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLEET_VERBOSE: 'false' },
  });
  live.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  exited.then(() => live.delete(child));
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`coordinator did not print its URL within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    });
  }).catch(async (error) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`coordinator at ${url} never answered GET /healthz; stderr: ${stderr}`);
    }
    await sleep(50);
  }
  log?.(`coordinator pid ${child.pid} at ${url}`);
  return {
    url,
    pid: child.pid,
    /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function statusField(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** VmRSS of a process, in bytes. */
const rssOf = (pid) => statusField(pid, 'VmRSS');

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/pid/clear_refs`);
 * false when the kernel or the permissions do not allow it.
 */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

const peakOf = (pid) => statusField(pid, 'VmHWM');

/**
 * Samples VmRSS of `pid` every `everyMs` in a worker thread, so that the bench's own busy
 * event loop (hashing, streaming) does not delay the samples. `measure(fn)` resolves to
 * fn's result with the peak RSS seen while it ran: the larger of the sampled maximum and
 * the kernel's VmHWM (reset just before), so a peak between two samples is not missed.
 */
function rssSampler(pid, everyMs = 20) {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const read = () => {
      try {
        const m = /^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + workerData.pid + '/status', 'utf8'));
        return m ? Number(m[1]) * 1024 : 0;
      } catch { return 0; }
    };
    let max = 0, samples = 0, on = false;
    setInterval(() => { if (on) { max = Math.max(max, read()); samples++; } }, workerData.everyMs);
    parentPort.on('message', (m) => {
      if (m === 'start') { max = read(); samples = 1; on = true; parentPort.postMessage({ started: true }); }
      else if (m === 'stop') { on = false; max = Math.max(max, read()); samples++; parentPort.postMessage({ max, samples }); }
      else if (m === 'exit') process.exit(0);
    });
    `,
    { eval: true, workerData: { pid, everyMs } },
  );
  worker.unref();
  const ask = (m) =>
    new Promise((r, reject) => {
      const timer = setTimeout(() => reject(new Error(`rss sampler did not answer ${m}`)), 5_000);
      worker.once('message', (v) => {
        clearTimeout(timer);
        r(v);
      });
      worker.postMessage(m);
    });
  return {
    async measure(fn) {
      const hwm = resetPeak(pid);
      await ask('start');
      let result;
      let stats;
      try {
        result = await fn();
      } finally {
        stats = await ask('stop');
      }
      const { max, samples } = stats;
      const peak = hwm ? Math.max(max, peakOf(pid)) : max;
      return { result, peak, samples, hwm };
    },
    async close() {
      const gone = new Promise((r) => worker.once('exit', r));
      worker.postMessage('exit');
      await Promise.race([gone, sleep(2_000)]);
      await worker.terminate().catch(() => undefined);
    },
  };
}

module.exports = { startCoordinator, rssOf, rssSampler, REPO };
