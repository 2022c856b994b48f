import { createDurationEstimator, median } from './durations';
import { validatePlan } from './plan';
import { computeBLevels } from './priority';

interface T {
  id: string;
  project: string;
  target: string;
  deps: string[];
}
const task = (id: string, deps: string[] = []): T => {
  const [project = '', target = ''] = id.split(':');
  return { id, project, target, deps };
};
const fixed =
  (ms: Record<string, number>) =>
  (project: string, target: string): number =>
    ms[`${project}:${target}`] ?? 1000;

describe('durations', () => {
  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('falls back from project:target to target to the default', () => {
    const estimate = createDurationEstimator(
      [
        { project: 'a', target: 'build', durationMs: 100 },
        { project: 'a', target: 'build', durationMs: 300 },
        { project: 'a', target: 'build', durationMs: 200 },
        { project: 'b', target: 'build', durationMs: 5000 },
      ],
      1000,
    );
    expect(estimate('a', 'build')).toBe(200);
    expect(estimate('c', 'build')).toBe(250); // median of 100, 200, 300, 5000
    expect(estimate('a', 'test')).toBe(1000);
  });
});

describe('computeBLevels', () => {
  it('chain: sums along the path', () => {
    const plan = validatePlan([task('a:x'), task('b:x', ['a:x']), task('c:x', ['b:x'])]);
    const levels = computeBLevels(plan, fixed({ 'a:x': 1, 'b:x': 10, 'c:x': 100 }));
    expect(Object.fromEntries(levels)).toEqual({ 'a:x': 111, 'b:x': 110, 'c:x': 100 });
  });

  it('fork-join: takes the longest branch', () => {
    const plan = validatePlan([
      task('root:x'),
      task('fast:x', ['root:x']),
      task('slow:x', ['root:x']),
      task('join:x', ['fast:x', 'slow:x']),
    ]);
    const levels = computeBLevels(plan, fixed({ 'root:x': 5, 'fast:x': 1, 'slow:x': 50, 'join:x': 2 }));
    expect(levels.get('join:x')).toBe(2);
    expect(levels.get('slow:x')).toBe(52);
    expect(levels.get('fast:x')).toBe(3);
    expect(levels.get('root:x')).toBe(57);
  });

  it('wide fan: every leaf is its own duration, the root the max plus itself', () => {
    const leaves = Array.from({ length: 1000 }, (_, i) => task(`p${i}:x`, ['root:x']));
    const plan = validatePlan([task('root:x'), ...leaves]);
    const levels = computeBLevels(plan, fixed({ 'p999:x': 7000 }));
    expect(levels.get('p0:x')).toBe(1000);
    expect(levels.get('p999:x')).toBe(7000);
    expect(levels.get('root:x')).toBe(8000);
  });

  it('skewed: a long thin chain outranks a short heavy task', () => {
    const chain = Array.from({ length: 10 }, (_, i) => task(`c${i}:x`, i === 0 ? [] : [`c${i - 1}:x`]));
    const plan = validatePlan([task('heavy:x'), ...chain]);
    const levels = computeBLevels(plan, fixed({ 'heavy:x': 5000 }));
    expect(levels.get('c0:x')).toBe(10000);
    expect(levels.get('heavy:x')).toBe(5000);
    expect((levels.get('c0:x') ?? 0) > (levels.get('heavy:x') ?? 0)).toBe(true);
  });
});
