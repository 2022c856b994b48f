import { agentExitReason, type RunExitFacts } from './run-exit';

const open: RunExitFacts = {
  runId: 'r1',
  status: 'open',
  reason: null,
  stopAgentsOnFailure: false,
  failedTasks: 0,
  stopAgentsAfter: [],
  listedTasks: 0,
  listedUnfinished: 0,
  readyOrLeased: 0,
};

describe('agentExitReason', () => {
  it('keeps agents of an open run', () => {
    expect(agentExitReason(open)).toBeNull();
  });

  it('ended runs: completed, or failed with the coordinator\'s reason', () => {
    expect(agentExitReason({ ...open, status: 'completed' })).toBe('run r1 is completed');
    expect(agentExitReason({ ...open, status: 'failed' })).toBe('run r1 is failed');
    expect(agentExitReason({ ...open, status: 'failed', reason: 'main job silent for 30 s' })).toBe(
      'run r1 failed: main job silent for 30 s',
    );
  });

  it('stopAgentsOnFailure after a failure', () => {
    expect(agentExitReason({ ...open, failedTasks: 1 })).toBeNull();
    expect(agentExitReason({ ...open, failedTasks: 1, stopAgentsOnFailure: true })).toMatch(/failed and stopAgentsOnFailure/);
  });

  describe('stopAgentsAfter', () => {
    const after = { ...open, stopAgentsAfter: ['build', 'test'] };

    it('exits once every listed task is terminal and nothing is ready or leased', () => {
      expect(agentExitReason({ ...after, listedTasks: 4, listedUnfinished: 1, readyOrLeased: 1 })).toBeNull();
      expect(agentExitReason({ ...after, listedTasks: 4, listedUnfinished: 0, readyOrLeased: 1 })).toBeNull();
      expect(agentExitReason({ ...after, listedTasks: 4, listedUnfinished: 0, readyOrLeased: 0 })).toBe('targets build, test done');
    });

    it('a run with no listed task yet keeps its agents', () => {
      expect(agentExitReason({ ...after, listedTasks: 0 })).toBeNull();
    });

    it('is off when no target is listed', () => {
      expect(agentExitReason({ ...open, listedTasks: 3 })).toBeNull();
    });
  });
});
