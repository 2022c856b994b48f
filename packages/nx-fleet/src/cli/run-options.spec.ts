import { parseDurationFlag, parseTargetsFlag, runModelOptions } from './run-options';

const RANGE = { min: 60_000, max: 7 * 86_400_000 };

describe('parseDurationFlag', () => {
  it('takes seconds, or a number with a unit', () => {
    expect(parseDurationFlag('run-timeout', 5400, RANGE)).toBe(5_400_000);
    expect(parseDurationFlag('run-timeout', '5400', RANGE)).toBe(5_400_000);
    expect(parseDurationFlag('run-timeout', '90m', RANGE)).toBe(5_400_000);
    expect(parseDurationFlag('run-timeout', '90min', RANGE)).toBe(5_400_000);
    expect(parseDurationFlag('run-timeout', '3h', RANGE)).toBe(10_800_000);
    expect(parseDurationFlag('run-timeout', '1.5h', RANGE)).toBe(5_400_000);
    expect(parseDurationFlag('run-timeout', ' 2D ', RANGE)).toBe(2 * 86_400_000);
    expect(parseDurationFlag('run-timeout', '60s', RANGE)).toBe(60_000);
  });

  it('names the flag and the allowed range when the value is wrong', () => {
    expect(() => parseDurationFlag('run-timeout', '59s', RANGE)).toThrow(
      '--run-timeout must be a duration from 1 min to 7 days (seconds, or with a unit: 90s, 90m, 3h), got "59s"',
    );
    expect(() => parseDurationFlag('run-timeout', '8d', RANGE)).toThrow(/--run-timeout must be a duration from 1 min to 7 days/);
    expect(() => parseDurationFlag('task-timeout', 'soon', RANGE)).toThrow(/--task-timeout .* got "soon"/);
    expect(() => parseDurationFlag('main-timeout', '-5', RANGE)).toThrow(/--main-timeout/);
    expect(() => parseDurationFlag('main-timeout', '3 hours', RANGE)).toThrow(/--main-timeout/);
  });
});

describe('parseTargetsFlag', () => {
  it('splits commas, accepts repeats, drops duplicates', () => {
    expect(parseTargetsFlag('stop-agents-after', ['build,test', 'build', ' e2e-ci '])).toEqual(['build', 'test', 'e2e-ci']);
  });

  it('refuses what cannot be a target', () => {
    expect(() => parseTargetsFlag('stop-agents-after', ['a:build'])).toThrow(/--stop-agents-after takes target names .* got "a:build"/);
    expect(() => parseTargetsFlag('stop-agents-after', [''])).toThrow(/needs at least one target/);
  });
});

describe('runModelOptions', () => {
  it('leaves unset flags to the server', () => {
    expect(runModelOptions({})).toEqual({});
  });

  it('maps every flag to its CreateRunRequest field', () => {
    expect(
      runModelOptions({
        retries: 2,
        'stop-agents-after': ['build'],
        'main-timeout': 60,
        'run-timeout': '90m',
        'task-timeout': '1h',
      }),
    ).toEqual({ retries: 2, stopAgentsAfter: ['build'], mainTimeoutMs: 60_000, runTimeoutMs: 5_400_000, taskTimeoutMs: 3_600_000 });
  });

  it('checks the ranges the coordinator accepts', () => {
    expect(() => runModelOptions({ retries: 11 })).toThrow('--retries must be a whole number from 0 to 10, got 11');
    expect(() => runModelOptions({ retries: 1.5 })).toThrow(/--retries/);
    expect(() => runModelOptions({ retries: Number('abc') })).toThrow('--retries must be a whole number from 0 to 10, got something that is not a number');
    expect(() => runModelOptions({ 'main-timeout': 5 })).toThrow(/--main-timeout must be a duration from 10 s to 24 h/);
    expect(() => runModelOptions({ 'task-timeout': '5s' })).toThrow(/--task-timeout must be a duration from 10 s to 7 days/);
  });
});
