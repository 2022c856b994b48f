/**
 * Helpers shared by the field-case tests (see /work/shared/field-cases/README.md and docs/field-cases.md):
 * the Nx version a case runs on, custom hand-made workspaces, one distributed run (coordinator + agents +
 * main's three commands through the real CLI), the run's API view, and a fault-injecting HTTP proxy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from '../support/processes';
import { e2eNxVersions, writeHandmadeWorkspace, type NxVersion, type ProjectSpec } from '../support/workspaces';
import { CLI, fleetEnv, type Coordinator } from '../fleet/cluster';

// one distributed run and the Nx 23+ log flags live with the other cluster helpers; the field cases import them from here too
export { distributedRun, logFlags, within, type DistributedOptions, type DistributedRun } from '../fleet/cluster';

/** The newest Nx of e2eNxVersions(): the one version most field cases run on. */
export function newestNxVersion(): NxVersion {
  const key = (v: string): number[] => v.split('.').map(Number);
  return [...e2eNxVersions()].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  })[e2eNxVersions().length - 1];
}

/** A `prepare` for fleetWorkspaces: replaces the template's projects by `projects` (node_modules stays). */
export function customProjects(projects: Record<string, ProjectSpec>, extra?: (dir: string) => void): (dir: string) => void {
  return (dir) => {
    rmSync(join(dir, 'packages'), { recursive: true, force: true });
    writeHandmadeWorkspace(dir, projects);
    extra?.(dir);
  };
}

export interface RunApiView {
  runId: string;
  status: string;
  failedTasks: string[];
  agents: Array<{ name: string }>;
  executions: Array<{ executionId: string; command: string; status: string }>;
}

/** GET /v1/runs/:runId (packages/protocol/src/routes.ts getRun). */
export async function getRun(coordinator: Coordinator, runId: string): Promise<RunApiView> {
  const res = await fetch(`${coordinator.url}/v1/runs/${encodeURIComponent(runId)}`, {
    headers: { authorization: `Bearer ${coordinator.token}` },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET run ${runId}: ${res.status} ${text}`);
  return JSON.parse(text) as RunApiView;
}

/** GET /v1/executions/:id: its tasks with the hash the agent reported. */
export async function getExecution(
  coordinator: Coordinator,
  executionId: string,
): Promise<{ status: string; tasks: Array<{ id: string; status: string; hash: string | null; agent: string | null }> }> {
  const res = await fetch(`${coordinator.url}/v1/executions/${encodeURIComponent(executionId)}`, {
    headers: { authorization: `Bearer ${coordinator.token}` },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET execution ${executionId}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The artifacts the coordinator holds: file name (the key's hash) -> size, under <data-dir>/blobs/default. */
export function storedArtifacts(coordinator: Coordinator): Map<string, number> {
  const dir = join(coordinator.dataDir, 'blobs', 'default');
  const out = new Map<string, number>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) out.set(name, statSync(join(dir, name)).size);
  return out;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Hashes of the task entries in a local Nx cache folder (`.nx/cache/<hash>` folders). */
export function localCacheHashes(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDir).filter((name) => /^\d{6,}$/.test(name));
  } catch {
    return [];
  }
}

/* ------------------------------------------------------------------ a fault-injecting HTTP proxy */

export interface ProxyRequest {
  method: string;
  path: string;
}

export type ProxyFault =
  /** Answer this status without forwarding (the request body is drained). */
  | { kind: 'status'; status: number }
  /** Forward, but cut the answer's body after `fraction` of its Content-Length. */
  | { kind: 'cut-response'; fraction: number };

export interface FaultProxy {
  url: string;
  /** Every request seen, in order, with what was done to it. */
  readonly seen: Array<ProxyRequest & { fault: string | null; status: number | null }>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of `target`. `decide` is asked once per request and returns a fault
 * to inject or null to forward it untouched (bodies stream in both directions, nothing is buffered).
 */
export async function startFaultProxy(target: string, decide: (req: ProxyRequest) => ProxyFault | null): Promise<FaultProxy> {
  const upstreamUrl = new URL(target);
  const seen: FaultProxy['seen'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const info = { method: req.method ?? 'GET', path: req.url ?? '/' };
    const fault = decide(info);
    const entry = { ...info, fault: fault ? fault.kind : null, status: null as number | null };
    seen.push(entry);
    if (fault?.kind === 'status') {
      req.resume();
      req.on('end', () => {
        entry.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'text/plain', connection: 'close' }).end(`injected ${fault.status}`);
      });
      return;
    }
    const upstream = httpRequest(
      { host: upstreamUrl.hostname, port: Number(upstreamUrl.port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        entry.status = answer.statusCode ?? null;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (fault?.kind === 'cut-response') {
          const total = Number(answer.headers['content-length'] ?? NaN);
          const limit = Number.isFinite(total) ? Math.floor(total * fault.fraction) : 0;
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent >= limit) return;
            const part = chunk.subarray(0, Math.max(0, limit - sent));
            sent += part.length;
            res.write(part);
            if (sent >= limit) {
              answer.destroy();
              res.destroy();
            }
          });
          answer.on('end', () => res.destroy());
        } else {
          answer.pipe(res);
        }
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Lines of `text` that match `pattern`. */
export function linesMatching(text: string, pattern: RegExp): string[] {
  return text.split('\n').filter((line) => pattern.test(line));
}

/** Like cluster.ts startAgent, with extra environment (the CI variables a pipeline gives every job). */
export function startAgentWithEnv(
  workspace: string,
  coordinator: Coordinator,
  runId: string,
  name: string,
  args: string[],
  extra: Record<string, string | undefined>,
): ManagedProcess {
  return startProcess(name, process.execPath, [CLI, 'start-agent', '--name', name, ...args], {
    cwd: workspace,
    env: fleetEnv(workspace, coordinator, { runId, extra: { FLEET_MARKER_ID: name, ...extra } }),
    logFile: join(workspace, '.fleet-e2e', `${name}.log`),
  });
}

/** A `prepare` extra: a random file in packages/<project> so that its tasks get hashes no earlier test stored. */
export function salt(project: string): (dir: string) => void {
  return (dir) => writeFileSync(join(dir, 'packages', project, 'salt.txt'), randomBytes(8).toString('hex'));
}
