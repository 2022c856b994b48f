import { buildPlan, topologicalOrder } from './plan';
import type { NxTask, NxTaskGraph } from '../nx/types';

const task = (id: string, extra: Partial<NxTask> = {}): NxTask => {
  const [project, target, configuration] = id.split(':');
  return { id, target: { project, target, ...(configuration ? { configuration } : {}) }, hash: `h-${project}-${target}`, cache: true, ...extra };
};

function graph(tasks: NxTask[], deps: NxTaskGraph['dependencies'], continuous?: NxTaskGraph['continuousDependencies']): NxTaskGraph {
  return { roots: [], tasks: Object.fromEntries(tasks.map((t) => [t.id, t])), dependencies: deps, continuousDependencies: continuous };
}

const cacheable = (t: NxTask): boolean => t.cache === true;

describe('buildPlan', () => {
  it('distributes cacheable tasks with their dependencies, in dependency order', () => {
    const g = graph([task('b:build'), task('a:build'), task('c:build:production')], {
      'b:build': ['a:build'],
      'a:build': [],
      'c:build:production': ['b:build'],
    });
    const plan = buildPlan(g, cacheable);
    expect(plan.distributed.map((t) => t.id)).toEqual(['a:build', 'b:build', 'c:build:production']);
    expect(plan.distributed[2]).toEqual({
      id: 'c:build:production',
      project: 'c',
      target: 'build',
      configuration: 'production',
      hash: 'h-c-build',
      deps: ['b:build'],
    });
    expect(plan.local).toEqual([]);
  });

  it('keeps non-cacheable tasks and everything that needs them on main, saying why', () => {
    const g = graph([task('a:gen', { cache: false }), task('b:build'), task('c:build'), task('d:lint')], {
      'a:gen': [],
      'b:build': ['a:gen'],
      'c:build': ['b:build'],
      'd:lint': [],
    });
    const plan = buildPlan(g, cacheable);
    expect(plan.distributed.map((t) => t.id)).toEqual(['d:lint']);
    expect(plan.local).toEqual([
      { id: 'a:gen', reason: 'not cacheable' },
      { id: 'b:build', reason: 'depends on a:gen, which runs on main' },
      { id: 'c:build', reason: 'depends on b:build, which runs on main' },
    ]);
  });

  it('reads Nx 24 edges, which are objects, like the string edges of older versions', () => {
    const g = graph([task('a:build'), task('b:build')], { 'a:build': [], 'b:build': [{ id: 'a:build' }] });
    expect(buildPlan(g, cacheable).distributed[1].deps).toEqual(['a:build']);
  });

  it('keeps tasks with continuous dependencies on main and sends deferred hashes as null', () => {
    const g = graph(
      [task('api:serve', { cache: false }), task('app:e2e'), task('b:second', { hash: undefined })],
      { 'api:serve': [], 'app:e2e': [], 'b:second': [] },
      { 'app:e2e': ['api:serve'] },
    );
    const plan = buildPlan(g, cacheable);
    expect(plan.local.map((l) => l.id)).toEqual(['api:serve', 'app:e2e']);
    expect(plan.distributed).toEqual([{ id: 'b:second', project: 'b', target: 'second', hash: null, deps: [] }]);
  });

  it('rejects a cycle with the tasks on it', () => {
    const g = graph([task('a:build'), task('b:build')], { 'a:build': ['b:build'], 'b:build': ['a:build'] });
    expect(() => topologicalOrder(g)).toThrow(/cycle: a:build -> b:build -> a:build/);
  });
});
