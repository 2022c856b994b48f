import { resolveBranch, resolveRunId } from './identity';

describe('resolveRunId', () => {
  it('prefers FLEET_RUN_ID, then the CI variables', () => {
    expect(resolveRunId({ FLEET_RUN_ID: 'my-run', GITHUB_RUN_ID: '1' })).toEqual({ runId: 'my-run', source: 'FLEET_RUN_ID' });
    expect(resolveRunId({ GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' })?.runId).toBe('gh-42-2');
    expect(resolveRunId({ CIRCLE_WORKFLOW_ID: 'abc-def' })?.runId).toBe('circle-abc-def');
    expect(resolveRunId({ BUILD_BUILDID: '7' })?.runId).toBe('azure-7');
    expect(resolveRunId({ CI_PIPELINE_ID: '9' })?.runId).toBe('gitlab-9');
    expect(resolveRunId({ BITBUCKET_BUILD_NUMBER: '3' })?.runId).toBe('bitbucket-3');
  });

  it('adds FLEET_RUN_GROUP so that several main jobs of one pipeline get their own runs', () => {
    expect(resolveRunId({ GITHUB_RUN_ID: '42', FLEET_RUN_GROUP: 'linux' })?.runId).toBe('gh-42-1-linux');
  });

  it('returns null outside CI and keeps odd characters out of the id', () => {
    expect(resolveRunId({})).toBeNull();
    expect(resolveRunId({ FLEET_RUN_ID: 'feature/x y' })?.runId).toBe('feature_x_y');
    expect(resolveRunId({ FLEET_RUN_ID: '--x' })?.runId).toBe('r--x');
  });

  it('finds the branch from the CI variables', () => {
    expect(resolveBranch({ GITHUB_HEAD_REF: 'pr-branch', GITHUB_REF_NAME: '12/merge' })).toBe('pr-branch');
    expect(resolveBranch({ CIRCLE_BRANCH: 'main' })).toBe('main');
    expect(resolveBranch({})).toBeUndefined();
  });
});
