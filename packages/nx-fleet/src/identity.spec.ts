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

  it('finds the branch of a branch build from the CI variables', () => {
    expect(resolveBranch({ GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' })).toBe('main');
    expect(resolveBranch({ CIRCLE_BRANCH: 'main' })).toBe('main');
    expect(resolveBranch({ CI_COMMIT_REF_NAME: 'develop' })).toBe('develop');
    expect(resolveBranch({ BITBUCKET_BRANCH: 'release/2' })).toBe('release/2');
    expect(resolveBranch({})).toBeUndefined();
  });

  it('takes Azure\'s full ref, not its last segment (feature/main is not main)', () => {
    expect(resolveBranch({ BUILD_SOURCEBRANCH: 'refs/heads/feature/main', BUILD_SOURCEBRANCHNAME: 'main' })).toBe('feature/main');
    expect(resolveBranch({ BUILD_SOURCEBRANCHNAME: 'main' })).toBe('main');
  });

  it('FLEET_BRANCH wins, also on a pull request build', () => {
    expect(resolveBranch({ FLEET_BRANCH: 'main', GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/12/merge' })).toBe('main');
    expect(resolveBranch({ FLEET_BRANCH: '  ', CIRCLE_BRANCH: 'dev' })).toBe('dev');
  });

  describe('a pull or merge request never claims its head branch name', () => {
    it('GitHub pull_request: the number from refs/pull/<N>/merge', () => {
      const env = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/12/merge', GITHUB_HEAD_REF: 'main', GITHUB_REF_NAME: '12/merge' };
      expect(resolveBranch(env)).toBe('pull/12');
    });

    it('GitHub pull_request_target (runs on the base ref): the number from the event file, never the base branch', () => {
      const files: Record<string, string> = { '/event.json': JSON.stringify({ number: 34, pull_request: { number: 34 } }) };
      const read = (f: string): string => {
        if (!(f in files)) throw new Error('ENOENT');
        return files[f];
      };
      const env = { GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main', GITHUB_HEAD_REF: 'main' };
      expect(resolveBranch({ ...env, GITHUB_EVENT_PATH: '/event.json' }, read)).toBe('pull/34');
      expect(resolveBranch({ ...env, GITHUB_EVENT_PATH: '/missing.json' }, read)).toBe('pull/unknown');
      expect(resolveBranch(env, read)).toBe('pull/unknown');
    });

    it('CircleCI: CIRCLE_PULL_REQUEST or CIRCLE_PR_NUMBER', () => {
      expect(resolveBranch({ CIRCLE_BRANCH: 'main', CIRCLE_PULL_REQUEST: 'https://github.com/o/r/pull/56' })).toBe('pull/56');
      expect(resolveBranch({ CIRCLE_BRANCH: 'main', CIRCLE_PR_NUMBER: '57' })).toBe('pull/57');
      expect(resolveBranch({ CIRCLE_BRANCH: 'main', CIRCLE_PULL_REQUEST: 'https://example.com/odd' })).toBe('pull/unknown');
    });

    it('Azure: SYSTEM_PULLREQUEST_PULLREQUESTNUMBER or SYSTEM_PULLREQUEST_PULLREQUESTID', () => {
      const base = { BUILD_SOURCEBRANCH: 'refs/pull/7/merge', BUILD_SOURCEBRANCHNAME: 'merge', SYSTEM_PULLREQUEST_SOURCEBRANCH: 'main' };
      expect(resolveBranch({ ...base, SYSTEM_PULLREQUEST_PULLREQUESTNUMBER: '7', SYSTEM_PULLREQUEST_PULLREQUESTID: '900' })).toBe('pull/7');
      expect(resolveBranch({ ...base, SYSTEM_PULLREQUEST_PULLREQUESTID: '900' })).toBe('pull/900');
    });

    it('GitLab: mr/<CI_MERGE_REQUEST_IID>', () => {
      expect(resolveBranch({ CI_COMMIT_REF_NAME: 'main', CI_MERGE_REQUEST_IID: '8', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'main' })).toBe('mr/8');
    });

    it('Bitbucket: BITBUCKET_PR_ID', () => {
      expect(resolveBranch({ BITBUCKET_BRANCH: 'main', BITBUCKET_PR_ID: '9' })).toBe('pull/9');
    });
  });
});
