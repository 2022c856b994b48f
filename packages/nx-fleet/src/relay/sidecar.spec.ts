import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionView, TaskView } from '@fleet/protocol';
import type { FleetClient } from '../client/fleet-client';
import { silentReporter } from '../reporter';
import { runSidecar, sidecarOutcome } from './sidecar';

describe('sidecarOutcome', () => {
  it("is the hook's result when Nx waits for nothing", () => {
    expect(sidecarOutcome({ status: 'succeeded' }, 0)).toBe('succeeded');
    expect(sidecarOutcome({ status: 'failed' }, 0)).toBe('failed');
  });
  it('is cancelled when Nx still waits for a task (interrupted: the hook saw no result for it) or left no result', () => {
    expect(sidecarOutcome({ status: 'succeeded' }, 1)).toBe('cancelled');
    expect(sidecarOutcome({ status: 'failed' }, 2)).toBe('cancelled');
    expect(sidecarOutcome(null, 0)).toBe('cancelled');
  });
});

/** A coordinator with one execution whose only task runs on an agent until the execution is finished. */
function fakeClient() {
  let version = 1;
  let status: ExecutionView['status'] = 'running';
  let taskStatus: TaskView['status'] = 'leased';
  const finished: string[] = [];
  const changes: Array<() => void> = [];
  const view = (): ExecutionView => ({
    executionId: 'x1',
    runId: 'r1',
    command: 'nx run a:build',
    status,
    version,
    agentsConnected: 1,
    tasks: [
      {
        id: 'a:build',
        project: 'a',
        target: 'build',
        configuration: null,
        status: taskStatus,
        hash: null,
        agent: 'agent-1',
        exitCode: null,
        attempts: 0,
        durationMs: null,
        message: taskStatus === 'cancelled' ? 'execution finished (cancelled) before the task ran' : null,
        log: null,
      },
    ],
  });
  const client = {
    url: 'http://fake',
    async getExecution(_id: string, since = -1, waitMs = 0, signal?: AbortSignal): Promise<ExecutionView> {
      if (version > since || waitMs === 0) return view();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        changes.push(() => (clearTimeout(timer), resolve()));
        signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (signal?.aborted) throw new Error('aborted');
      return view();
    },
    async heartbeatExecution(): Promise<void> {},
    async finishExecution(_id: string, s: string): Promise<ExecutionView> {
      finished.push(s);
      status = s as ExecutionView['status'];
      taskStatus = 'cancelled';
      version++;
      changes.splice(0).forEach((wake) => wake());
      return view();
    },
    async downloadArtifact(): Promise<null> {
      return null;
    },
  };
  return { client: client as unknown as FleetClient, finished };
}

describe('runSidecar', () => {
  it('when Nx is gone while it waits for a task, finishes the execution as cancelled, answers the request and ends', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fleet-sidecar-'));
    const dir = join(root, '.fleet', 'relays', 'x1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'plan.json'), JSON.stringify([{ id: 'a:build', hash: null }]));
    // Nx 21+ interrupted: postTasksExecution saw no result for the task and called it a success
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ status: 'succeeded' }));
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const { client, finished } = fakeClient();
    const sidecar = runSidecar({ client, reporter: silentReporter, executionId: 'x1', dir, workspaceRoot: root, parentPid: Number(gone.stdout), maxLifeMs: 60_000 });

    // Nx's GET for the task's hash, held by the relay until the task is done
    let relay: { url: string; secret: string } | undefined;
    for (let i = 0; i < 100 && !relay; i++) {
      try {
        relay = JSON.parse(readFileSync(join(dir, 'relay.json'), 'utf8'));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const get = fetch(`${relay!.url}/v1/cache/12345678`, { headers: { authorization: `Bearer ${relay!.secret}` } }).then(
      (res) => res.status,
      () => 'closed',
    );

    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([sidecar.then(() => 'ended'), new Promise((r) => (timer = setTimeout(() => r('still running'), 15_000)))]);
    clearTimeout(timer);
    expect(ended).toBe('ended');
    expect(finished).toEqual(['cancelled']);
    expect(await get).toBe(404);
  }, 30_000);
});
