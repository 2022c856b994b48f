import { PlanValidationError } from './errors';

/** The part of a protocol PlanTask the scheduler needs. */
export interface PlanNode {
  readonly id: string;
  readonly deps: readonly string[];
}

export interface ValidPlan<T extends PlanNode> {
  /** Tasks in plan order. */
  readonly tasks: readonly T[];
  readonly byId: ReadonlyMap<string, T>;
  /** Ids of the tasks that depend directly on each task, in plan order. */
  readonly dependants: ReadonlyMap<string, readonly string[]>;
  /** Every id, dependencies before their dependants. */
  readonly topologicalOrder: readonly string[];
}

function listIds(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/** Finds one cycle among `remaining` (all of which sit on or behind a cycle). */
function findCycle<T extends PlanNode>(remaining: ReadonlySet<string>, byId: ReadonlyMap<string, T>): string[] {
  const start = remaining.values().next().value as string;
  const path: string[] = [];
  const position = new Map<string, number>();
  let current = start;
  while (!position.has(current)) {
    position.set(current, path.length);
    path.push(current);
    const next = byId.get(current)?.deps.find((d) => remaining.has(d));
    if (next === undefined) break; // unreachable: every remaining node has a remaining dep
    current = next;
  }
  const cycle = path.slice(position.get(current) ?? 0);
  return [...cycle, cycle[0] as string];
}

/**
 * Checks a plan: unique ids, known deps, no self-deps, no cycles. Throws a
 * PlanValidationError naming the tasks at fault.
 */
export function validatePlan<T extends PlanNode>(tasks: readonly T[]): ValidPlan<T> {
  const byId = new Map<string, T>();
  const duplicates: string[] = [];
  for (const task of tasks) {
    if (byId.has(task.id)) duplicates.push(task.id);
    else byId.set(task.id, task);
  }
  if (duplicates.length > 0) {
    throw new PlanValidationError(`duplicate task ids in plan: ${listIds(duplicates)}`, duplicates);
  }
  const dependants = new Map<string, string[]>();
  const pendingDeps = new Map<string, number>();
  for (const task of tasks) {
    dependants.set(task.id, []);
  }
  for (const task of tasks) {
    const unique = new Set(task.deps);
    for (const dep of unique) {
      if (dep === task.id) throw new PlanValidationError(`task ${task.id} depends on itself`, [task.id]);
      const list = dependants.get(dep);
      if (list === undefined) {
        throw new PlanValidationError(`task ${task.id} depends on ${dep}, which is not in the plan`, [task.id, dep]);
      }
      list.push(task.id);
    }
    pendingDeps.set(task.id, unique.size);
  }
  const order: string[] = [];
  const queue = tasks.filter((t) => pendingDeps.get(t.id) === 0).map((t) => t.id);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    order.push(id);
    for (const d of dependants.get(id) ?? []) {
      const left = (pendingDeps.get(d) ?? 0) - 1;
      pendingDeps.set(d, left);
      if (left === 0) queue.push(d);
    }
  }
  if (order.length < tasks.length) {
    const done = new Set(order);
    const remaining = new Set(tasks.map((t) => t.id).filter((id) => !done.has(id)));
    const cycle = findCycle(remaining, byId);
    throw new PlanValidationError(`dependency cycle in plan (each task depends on the next): ${cycle.join(' -> ')}`, cycle.slice(0, -1));
  }
  return { tasks, byId, dependants, topologicalOrder: order };
}
