/**
 * Which run a job belongs to. Main and agents of one CI pipeline compute the same id
 * from the CI's own variables, so nothing has to be passed between jobs.
 */
export type Env = Record<string, string | undefined>;

const CI_RUN_IDS: ReadonlyArray<{ ci: string; id: (env: Env) => string | undefined }> = [
  { ci: 'fleet', id: (e) => e.FLEET_RUN_ID },
  { ci: 'github', id: (e) => (e.GITHUB_RUN_ID ? `gh-${e.GITHUB_RUN_ID}-${e.GITHUB_RUN_ATTEMPT ?? '1'}` : undefined) },
  { ci: 'circleci', id: (e) => (e.CIRCLE_WORKFLOW_ID ? `circle-${e.CIRCLE_WORKFLOW_ID}` : undefined) },
  { ci: 'azure', id: (e) => (e.BUILD_BUILDID ? `azure-${e.BUILD_BUILDID}` : undefined) },
  { ci: 'gitlab', id: (e) => (e.CI_PIPELINE_ID ? `gitlab-${e.CI_PIPELINE_ID}` : undefined) },
  { ci: 'bitbucket', id: (e) => (e.BITBUCKET_BUILD_NUMBER ? `bitbucket-${e.BITBUCKET_BUILD_NUMBER}` : undefined) },
];

export interface RunIdentity {
  runId: string;
  /** Which variable it came from, for messages. */
  source: string;
}

export function resolveRunId(env: Env): RunIdentity | null {
  for (const { ci, id } of CI_RUN_IDS) {
    const value = id(env)?.trim();
    if (value) {
      const group = env.FLEET_RUN_GROUP?.trim();
      const runId = sanitize(group ? `${value}-${group}` : value);
      return { runId, source: ci === 'fleet' ? 'FLEET_RUN_ID' : `${ci} CI variables` };
    }
  }
  return null;
}

/** Keeps run ids within the protocol's pattern whatever a CI puts in its variables. */
function sanitize(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._:@+-]/g, '_').slice(0, 200);
  return /^[A-Za-z0-9]/.test(cleaned) ? cleaned : `r${cleaned}`.slice(0, 200);
}

/** The branch a job builds, from the CI's variables (used to scope cache writes). */
export function resolveBranch(env: Env): string | undefined {
  return (
    env.FLEET_BRANCH ||
    env.GITHUB_HEAD_REF ||
    env.GITHUB_REF_NAME ||
    env.CIRCLE_BRANCH ||
    env.BUILD_SOURCEBRANCHNAME ||
    env.CI_COMMIT_REF_NAME ||
    env.BITBUCKET_BRANCH ||
    undefined
  );
}
