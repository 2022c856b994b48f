import type { DurationEstimator } from './durations';
import type { PlanNode, ValidPlan } from './plan';

export interface EstimableNode extends PlanNode {
  readonly project: string;
  readonly target: string;
}

/**
 * b-level of every task: the longest path, in expected milliseconds, from the task to
 * any sink, the task's own duration included. Higher means more urgent.
 */
export function computeBLevels<T extends EstimableNode>(
  plan: ValidPlan<T>,
  estimate: DurationEstimator,
): Map<string, number> {
  const levels = new Map<string, number>();
  const order = plan.topologicalOrder;
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i] as string;
    const task = plan.byId.get(id) as T;
    let longestAfter = 0;
    for (const d of plan.dependants.get(id) ?? []) {
      longestAfter = Math.max(longestAfter, levels.get(d) ?? 0);
    }
    levels.set(id, estimate(task.project, task.target) + longestAfter);
  }
  return levels;
}
