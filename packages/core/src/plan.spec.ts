import { PlanValidationError } from './errors';
import { validatePlan } from './plan';

const t = (id: string, deps: string[] = []): { id: string; deps: string[] } => ({ id, deps });

describe('validatePlan', () => {
  it('accepts a DAG and orders deps first', () => {
    const plan = validatePlan([t('c:build', ['b:build']), t('b:build', ['a:build']), t('a:build')]);
    expect(plan.topologicalOrder).toEqual(['a:build', 'b:build', 'c:build']);
    expect(plan.dependants.get('a:build')).toEqual(['b:build']);
  });

  it('rejects duplicate ids, naming them', () => {
    expect(() => validatePlan([t('a:x'), t('a:x')])).toThrow(/duplicate task ids in plan: a:x/);
  });

  it('rejects unknown deps', () => {
    expect(() => validatePlan([t('a:x', ['ghost:x'])])).toThrow(/a:x depends on ghost:x, which is not in the plan/);
  });

  it('rejects self-deps', () => {
    expect(() => validatePlan([t('a:x', ['a:x'])])).toThrow(/a:x depends on itself/);
  });

  it('rejects cycles, naming the tasks on the cycle', () => {
    let caught: unknown;
    try {
      validatePlan([t('z:x', ['a:x']), t('a:x', ['b:x']), t('b:x', ['c:x']), t('c:x', ['a:x'])]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PlanValidationError);
    const error = caught as PlanValidationError;
    expect(error.code).toBe('bad_request');
    expect(error.message).toContain('a:x -> b:x -> c:x -> a:x');
    expect([...error.tasks].sort()).toEqual(['a:x', 'b:x', 'c:x']);
  });

  it('tolerates a dep listed twice', () => {
    expect(validatePlan([t('a:x'), t('b:x', ['a:x', 'a:x'])]).topologicalOrder).toEqual(['a:x', 'b:x']);
  });
});
