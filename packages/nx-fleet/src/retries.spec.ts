import type { TaskView } from '@fleet/protocol';
import { describeRetries, flakyTasks } from './retries';

const task = (extra: Partial<TaskView>): TaskView => ({
  id: 'a:test',
  project: 'a',
  target: 'test',
  configuration: null,
  status: 'succeeded',
  hash: null,
  agent: 'agent-2',
  exitCode: 0,
  attempts: 1,
  durationMs: 10,
  message: null,
  log: null,
  retried: 0,
  ...extra,
});

describe('describeRetries', () => {
  it('says where it failed and where it was retried', () => {
    expect(describeRetries(task({ retried: 1, failedAttempts: [{ agent: 'agent-1', exitCode: 1, log: 'k1' }] }))).toBe(
      'a:test failed on agent-1 and was retried on agent-2',
    );
    expect(
      describeRetries(
        task({
          agent: 'agent-3',
          retried: 2,
          failedAttempts: [
            { agent: 'agent-1', exitCode: 1, log: null },
            { agent: 'agent-2', exitCode: 2, log: null },
          ],
        }),
      ),
    ).toBe('a:test failed on agent-1, then on agent-2, and was retried on agent-3');
  });

  it('is null for a task that was not retried (or from a coordinator that does not say)', () => {
    expect(describeRetries(task({}))).toBeNull();
    expect(describeRetries(task({ retried: undefined, failedAttempts: undefined }))).toBeNull();
  });
});

describe('flakyTasks', () => {
  it('lists the tasks that passed only on a retry', () => {
    const flaky = task({ id: 'b:test', retried: 1, failedAttempts: [{ agent: 'agent-1', exitCode: 1, log: null }] });
    const failedForGood = task({ id: 'c:test', status: 'failed', retried: 1 });
    expect(flakyTasks([task({}), flaky, failedForGood]).map((t) => t.id)).toEqual(['b:test']);
  });
});
