/** A ready task as the picker sees it. */
export interface ReadyCandidate {
  readonly id: string;
  /** b-level in expected ms; higher first. */
  readonly priority: number;
  /** Position in the plan (and executions in creation order); lower first on ties. */
  readonly order: number;
}

/** Highest b-level first, ties by plan order. Stores sort with the same rule. */
export function compareReady(a: ReadyCandidate, b: ReadyCandidate): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.order - b.order;
}

export function pickNext<T extends ReadyCandidate>(ready: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const candidate of ready) {
    if (best === undefined || compareReady(candidate, best) < 0) best = candidate;
  }
  return best;
}
