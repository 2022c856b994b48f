import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { ExecutionView, TaskView } from '@fleet/protocol';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { readStagedReplay } from '../replay/staging';
import { ExecutionWatcher } from './execution-watcher';
import { MainCache } from './main-cache';

const dir = mkdtempSync(join(tmpdir(), 'fleet-main-cache-'));
mkdirSync(join(dir, 'tmp'));
const watchers: ExecutionWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.stop()));
});

function archive(name: string, code: number, log: string): string {
  const stage = join(dir, `stage-${name}`);
  mkdirSync(join(stage, 'dist'), { recursive: true });
  writeFileSync(join(stage, 'dist', `${name}.txt`), name);
  writeFileSync(join(stage, 'terminalOutput'), log);
  const c = Buffer.alloc(4);
  c.writeInt32BE(code, 0);
  writeFileSync(join(stage, 'code'), c);
  const file = join(dir, `${name}.tar.gz`);
  tar.c({ cwd: stage, file, gzip: true, sync: true }, ['dist', 'terminalOutput', 'code']);
  return file;
}

const task = (id: string, extra: Partial<TaskView>): TaskView => ({
  id,
  project: id.split(':')[0],
  target: id.split(':')[1],
  configuration: null,
  status: 'ready',
  hash: null,
  agent: null,
  exitCode: null,
  attempts: 0,
  durationMs: null,
  message: null,
  log: null,
  ...extra,
});

/** A coordinator stand-in: views handed out one long-poll at a time, artifacts by key. */
function fakeClient(views: ExecutionView[], artifacts: Record<string, string>): FleetClient {
  let next = 0;
  return {
    async getExecution(_id: string, since: number) {
      while (next < views.length && views[next].version <= since) next++;
      if (next < views.length) return views[next++];
      await new Promise((r) => setTimeout(r, 20));
      return views[views.length - 1];
    },
    async downloadArtifact(key: string, file: string) {
      if (!artifacts[key]) return null;
      copyFileSync(artifacts[key], file);
      return { file, sha256: 'x', size: 1 };
    },
  } as unknown as FleetClient;
}

const view = (version: number, tasks: TaskView[]): ExecutionView => ({
  executionId: 'x1',
  runId: 'r1',
  command: 'nx run-many',
  status: 'running',
  version,
  tasks,
  agentsConnected: 1,
});

function reporter(): Reporter & { warnings: string[] } {
  const warnings: string[] = [];
  return { info: () => undefined, debug: () => undefined, error: () => undefined, warn: (m) => warnings.push(m), warnings };
}

describe('MainCache', () => {
  it('answers a planned hash once its task succeeded, and stages a failed task by id for the preload', async () => {
    const ok = archive('ok', 0, 'built a\n');
    const failed = archive('failed', 1, 'FAIL marker-123\n');
    const views = [
      view(1, [task('a:build', { status: 'leased', hash: 'h1' }), task('b:test', { status: 'leased', hash: 'h2' })]),
      view(2, [
        task('a:build', { status: 'succeeded', hash: 'h1', agent: 'agent-1' }),
        task('b:test', { status: 'failed', hash: 'h2', agent: 'agent-2', exitCode: 3, log: 'fleet-failure-L1' }),
      ]),
    ];
    const client = fakeClient(views, { h1: ok, 'fleet-failure-L1': failed });
    const watcher = new ExecutionWatcher(client, 'x1', reporter());
    const replayDir = join(dir, 'replay-1');
    const cache = new MainCache(client, reporter(), join(dir, 'tmp'), watcher, replayDir, [
      { id: 'a:build', hash: 'h1' },
      { id: 'b:test', hash: 'h2' },
    ]);
    watchers.push(watcher);
    watcher.start(views[0]);
    const hit = await cache.get('h1');
    expect(hit).not.toBeNull();
    expect(await cache.get('h2')).toBeNull();
    const staged = readStagedReplay(replayDir, 'b:test');
    expect(staged).toMatchObject({ taskId: 'b:test', exitCode: 3 });
    expect(staged?.banner).toMatch(/b:test failed on agent agent-2 \(exit code 3\)/);
    expect(staged?.archive && existsSync(staged.archive)).toBe(true);
  });

  it('stages a task the coordinator cancelled with exit code 1, even when the agent that was stopped reported 130', async () => {
    // --stop-agents-on-failure: c:build was running on an agent when b:test failed; the agent stopped it (SIGINT, 130).
    // Locally it would have run and passed, and Nx's exit code must stay the failure's, not a signal's.
    const views = [
      view(1, [task('b:test', { status: 'leased', hash: 'h2' }), task('c:build', { status: 'leased', hash: 'h3' })]),
      view(2, [
        task('b:test', { status: 'failed', hash: 'h2', agent: 'agent-2', exitCode: 1 }),
        task('c:build', { status: 'cancelled', hash: 'h3', agent: 'agent-3', exitCode: 130, message: 'not run: b:test failed' }),
      ]),
    ];
    const client = fakeClient(views, {});
    const watcher = new ExecutionWatcher(client, 'x1', reporter());
    const replayDir = join(dir, 'replay-cancelled');
    const cache = new MainCache(client, reporter(), join(dir, 'tmp'), watcher, replayDir, [
      { id: 'b:test', hash: 'h2' },
      { id: 'c:build', hash: 'h3' },
    ]);
    watchers.push(watcher);
    watcher.start(views[0]);
    expect(await cache.get('h3')).toBeNull();
    const staged = readStagedReplay(replayDir, 'c:build');
    expect(staged).toMatchObject({ taskId: 'c:build', exitCode: 1 });
    expect(staged?.banner).toBe('[fleet] c:build was cancelled by the coordinator: not run: b:test failed');
    expect(readStagedReplay(replayDir, 'b:test')).toMatchObject({ exitCode: 1 });
  });

  it('says a retry happened: a flaky success is warned about and summarised, a failure after a retry says so in its banner', async () => {
    const ok = archive('flaky-ok', 0, 'PASS\n');
    const failed = archive('again', 1, 'FAIL marker-123\n');
    const retried = (agent: string) => ({ retried: 1, failedAttempts: [{ agent, exitCode: 1, log: 'fleet-failure-L0' }] });
    const views = [
      view(1, [task('a:test', { status: 'leased', hash: 'h1' }), task('b:e2e', { status: 'leased', hash: 'h2' })]),
      view(2, [
        task('a:test', { status: 'succeeded', hash: 'h1', agent: 'agent-2', attempts: 1, ...retried('agent-1') }),
        task('b:e2e', { status: 'failed', hash: 'h2', agent: 'agent-1', exitCode: 1, attempts: 1, log: 'fleet-failure-L2', ...retried('agent-2') }),
      ]),
    ];
    const client = fakeClient(views, { h1: ok, 'fleet-failure-L2': failed });
    const watcher = new ExecutionWatcher(client, 'x1', reporter());
    const replayDir = join(dir, 'replay-retries');
    const rep = reporter();
    const cache = new MainCache(client, rep, join(dir, 'tmp'), watcher, replayDir, [
      { id: 'a:test', hash: 'h1' },
      { id: 'b:e2e', hash: 'h2' },
    ]);
    watchers.push(watcher);
    watcher.start(views[0]);
    expect(await cache.get('h1')).not.toBeNull();
    expect(await cache.get('h2')).toBeNull();
    expect(rep.warnings).toContain('a:test failed on agent-1 and was retried on agent-2, where it passed: flaky');
    expect(readStagedReplay(replayDir, 'b:e2e')?.banner).toMatch(
      /b:e2e failed on agent agent-1 after 2 attempts \(exit code 1\); its log, the last attempt's, follows[\s\S]*retried: b:e2e failed on agent-2 and was retried on agent-1, where it failed again/,
    );
    expect(cache.flakySummary()).toBe('flaky tasks (passed only on retry): a:test (1 failed attempt)');
  });

  it('answers a miss at once for a hash no task has when the watch is stopped, instead of waiting on it for ever', async () => {
    const views = [view(1, [task('a:build', { status: 'leased' })])];
    const client = fakeClient(views, {});
    const watcher = new ExecutionWatcher(client, 'x1', reporter());
    const cache = new MainCache(client, reporter(), join(dir, 'tmp'), watcher, join(dir, 'replay-stopped'), [{ id: 'a:build', hash: null }], {
      resolveUnknownHashes: true,
    });
    watcher.start(views[0]);
    await watcher.stop();
    const started = Date.now();
    expect(await cache.get('never-reported')).toBeNull();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('maps a hash it never planned to the task an agent reported it for', async () => {
    const ok = archive('late', 0, 'second\n');
    const views = [
      view(1, [task('b:second', { status: 'leased' })]),
      view(2, [task('b:second', { status: 'succeeded', hash: 'h9', agent: 'agent-1' })]),
    ];
    const client = fakeClient(views, { h9: ok });
    const watcher = new ExecutionWatcher(client, 'x1', reporter());
    const cache = new MainCache(client, reporter(), join(dir, 'tmp'), watcher, join(dir, 'replay-2'), [{ id: 'b:second', hash: null }], {
      resolveUnknownHashes: true,
    });
    watchers.push(watcher);
    watcher.start(views[0]);
    expect(await cache.get('h9')).not.toBeNull();
  });

  it('never serves an entry holding a failure, and answers a miss for a hash no task has once all are done', async () => {
    const poisoned = archive('poison', 1, 'FAIL\n');
    const views = [view(1, [task('a:lint', { status: 'succeeded', hash: 'h1' })])];
    const client = fakeClient(views, { hX: poisoned });
    const warn = reporter();
    const watcher = new ExecutionWatcher(client, 'x1', warn);
    const cache = new MainCache(client, warn, join(dir, 'tmp'), watcher, join(dir, 'replay-3'), [{ id: 'a:lint', hash: 'h1' }], {
      resolveUnknownHashes: true,
    });
    watchers.push(watcher);
    watcher.start(views[0]);
    expect(await cache.get('hX')).toBeNull();
    expect(warn.warnings.join('\n')).toMatch(/cache entry hX holds a failed result/);
  });
});
