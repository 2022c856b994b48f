/** One recorded run of a task, as kept in the coordinator's history. */
export interface DurationRecord {
  readonly project: string;
  readonly target: string;
  readonly durationMs: number;
}

export const DEFAULT_TASK_DURATION_MS = 1000;

export type DurationEstimator = (project: string, target: string) => number;

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function append(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * Expected duration of a task: the median of its project:target's history, else the
 * median of its target across projects, else `defaultMs`.
 */
export function createDurationEstimator(
  history: readonly DurationRecord[],
  defaultMs: number = DEFAULT_TASK_DURATION_MS,
): DurationEstimator {
  const byTask = new Map<string, number[]>();
  const byTarget = new Map<string, number[]>();
  for (const r of history) {
    const key = `${r.project}\u0000${r.target}`;
    append(byTask, key, r.durationMs);
    append(byTarget, r.target, r.durationMs);
  }
  const taskMedians = new Map<string, number>();
  for (const [key, values] of byTask) taskMedians.set(key, median(values) as number);
  const targetMedians = new Map<string, number>();
  for (const [key, values] of byTarget) targetMedians.set(key, median(values) as number);
  return (project: string, target: string): number =>
    taskMedians.get(`${project}\u0000${target}`) ?? targetMedians.get(target) ?? defaultMs;
}
