import { readFileSync } from 'node:fs';

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

/** GitHub events whose workflow builds a pull request's code (the head branch name is the author's choice). */
const GITHUB_PR_EVENTS = /^pull_request(_target|_review|_review_comment)?$/;

/**
 * The branch a job builds, from the CI's variables (it scopes cache writes: only the
 * trusted branches write to the shared namespace). `FLEET_BRANCH` wins. On a pull or merge
 * request build it is the request's identity, `pull/<number>` (GitLab `mr/<iid>`), never the
 * head branch: whoever opens a pull request chooses that name and could call it `main`.
 */
export function resolveBranch(env: Env, readFile: (file: string) => string = (f) => readFileSync(f, 'utf8')): string | undefined {
  const explicit = env.FLEET_BRANCH?.trim();
  if (explicit) return explicit;
  const pr = pullRequestIdentity(env, readFile);
  if (pr) return pr;
  const azureRef = env.BUILD_SOURCEBRANCH?.trim();
  const candidates = [
    env.GITHUB_REF_NAME,
    env.CIRCLE_BRANCH,
    // BUILD_SOURCEBRANCHNAME is only the last segment (feature/main -> main): use the full ref
    azureRef ? azureRef.replace(/^refs\/heads\//, '') : env.BUILD_SOURCEBRANCHNAME,
    env.CI_COMMIT_REF_NAME,
    env.BITBUCKET_BRANCH,
  ];
  for (const value of candidates) {
    const branch = value?.trim();
    if (branch) return branch;
  }
  return undefined;
}

/** `pull/<N>` / `mr/<N>` when the job builds a pull or merge request, else undefined. */
export function pullRequestIdentity(env: Env, readFile: (file: string) => string = (f) => readFileSync(f, 'utf8')): string | undefined {
  const number = (value: string | undefined): string | undefined => {
    const n = value?.trim();
    return n && /^\d{1,20}$/.test(n) ? n : undefined;
  };
  // GitHub: refs/pull/<N>/merge (pull_request); pull_request_target runs on the base ref, the number is in the event file
  const githubRef = /^refs\/pull\/(\d{1,20})\//.exec(env.GITHUB_REF ?? '')?.[1];
  if (githubRef) return `pull/${githubRef}`;
  if (env.GITHUB_EVENT_NAME && GITHUB_PR_EVENTS.test(env.GITHUB_EVENT_NAME.trim())) {
    return `pull/${githubEventNumber(env.GITHUB_EVENT_PATH, readFile) ?? 'unknown'}`;
  }
  const circle = /\/pull\/(\d{1,20})\/?$/.exec(env.CIRCLE_PULL_REQUEST?.trim() ?? '')?.[1] ?? number(env.CIRCLE_PR_NUMBER);
  if (circle) return `pull/${circle}`;
  const azure = number(env.SYSTEM_PULLREQUEST_PULLREQUESTNUMBER) ?? number(env.SYSTEM_PULLREQUEST_PULLREQUESTID);
  if (azure) return `pull/${azure}`;
  const gitlab = number(env.CI_MERGE_REQUEST_IID);
  if (gitlab) return `mr/${gitlab}`;
  const bitbucket = number(env.BITBUCKET_PR_ID);
  if (bitbucket) return `pull/${bitbucket}`;
  // a pull request build whose number could not be read is still not a branch build
  if (env.CIRCLE_PULL_REQUEST?.trim() || env.SYSTEM_PULLREQUEST_PULLREQUESTID?.trim() || env.BITBUCKET_PR_ID?.trim()) return 'pull/unknown';
  return undefined;
}

function githubEventNumber(eventPath: string | undefined, readFile: (file: string) => string): string | undefined {
  if (!eventPath) return undefined;
  try {
    const event = JSON.parse(readFile(eventPath)) as { number?: unknown; pull_request?: { number?: unknown } };
    const n = event.pull_request?.number ?? event.number;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? String(n) : undefined;
  } catch {
    return undefined;
  }
}
