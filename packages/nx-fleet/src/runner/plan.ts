import type { PlanTask } from '@fleet/protocol';
import { edgeId, type NxTask, type NxTaskGraph } from '../nx/types';

export interface DistributionPlan {
  /** Tasks sent to agents. */
  distributed: PlanTask[];
  /** Tasks main runs itself, with the reason. */
  local: Array<{ id: string; reason: string }>;
}

/**
 * Chooses what agents can run: a cacheable task whose dependencies are all distributed
 * (its results travel through the cache; a task that is not cacheable, or that needs the
 * outputs of one that is not, stays on main). Continuous tasks (servers) stay on main.
 */
export function buildPlan(graph: NxTaskGraph, isCacheable: (task: NxTask) => boolean): DistributionPlan {
  const order = topologicalOrder(graph);
  const distributed = new Map<string, PlanTask>();
  const local: DistributionPlan['local'] = [];
  for (const id of order) {
    const task = graph.tasks[id];
    const deps = (graph.dependencies[id] ?? []).map(edgeId);
    const continuous = (graph.continuousDependencies?.[id] ?? []).map(edgeId);
    let reason: string | null = null;
    if (!isCacheable(task)) reason = 'not cacheable';
    else if (continuous.length > 0) reason = 'depends on a continuous task';
    else {
      const localDep = deps.find((d) => !distributed.has(d));
      if (localDep) reason = `depends on ${localDep}, which runs on main`;
    }
    if (reason) {
      local.push({ id, reason });
      continue;
    }
    distributed.set(id, {
      id,
      project: task.target.project,
      target: task.target.target,
      ...(task.target.configuration ? { configuration: task.target.configuration } : {}),
      hash: task.hash ?? null,
      deps,
    });
  }
  return { distributed: [...distributed.values()], local };
}

/** Dependencies before dependants; throws on a cycle (Nx rejects those before us). */
export function topologicalOrder(graph: NxTaskGraph): string[] {
  const ids = Object.keys(graph.tasks);
  const state = new Map<string, 'visiting' | 'done'>();
  const out: string[] = [];
  const visit = (id: string, path: string[]): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`task graph has a cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const dep of (graph.dependencies[id] ?? []).map(edgeId)) {
      if (graph.tasks[dep]) visit(dep, [...path, id]);
    }
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of ids) visit(id, []);
  return out;
}
