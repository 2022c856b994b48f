/**
 * Reads a generated GitHub Actions workflow into jobs of shell steps, the way the runner
 * would execute them: `run:` steps with `bash -e {0}` (GitHub's default shell), `uses:`
 * steps not run (checkout, setup-node: the workspace copy stands in for them), the
 * nx-set-shas action replaced by the NX_BASE / NX_HEAD it would export, the install step
 * skipped (node_modules are present), `if: always()` honoured, one agent job per matrix value.
 */
import { INSTALL_SKIPPED, isInstallCommand, type JobPlan, type PipelinePlan, type StepPlan } from './pipeline';

export interface GithubContext {
  /** Repository variables (`vars.*`) and secrets (`secrets.*`). */
  vars: Record<string, string>;
  secrets: Record<string, string>;
  /** What nrwl/nx-set-shas would compute. */
  shas: { base: string; head: string };
  runId: string;
  runAttempt: string;
  branch: string;
  /** Upper bound for any step, whatever the workflow says. */
  maxStepMs: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Resolves the `${{ … }}` expressions the generated file uses; anything else is an error. */
function expand(value: unknown, ctx: GithubContext, matrix: Obj): string {
  return String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    const [scope, key, ...rest] = expr.split('.');
    if (rest.length === 0 && key !== undefined) {
      const table: Record<string, Record<string, unknown>> = { vars: ctx.vars, secrets: ctx.secrets, matrix };
      if (scope in table) {
        // GitHub gives an empty string for an unset variable or secret.
        return String(table[scope][key] ?? '');
      }
    }
    throw new Error(`the e2e GitHub reader does not evaluate \${{ ${expr} }}`);
  });
}

function envOf(raw: unknown, ctx: GithubContext, matrix: Obj): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(raw)).map(([k, v]) => [k, expand(v, ctx, matrix)]));
}

function shellOf(shell: unknown): string[] {
  if (shell === undefined) return ['bash', '-e', '-c']; // GitHub: `bash -e {0}` when no shell is given
  if (shell === 'bash') return ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c'];
  if (shell === 'sh') return ['sh', '-e', '-c'];
  throw new Error(`the e2e GitHub reader does not run shell ${JSON.stringify(shell)}`);
}

function minutes(v: unknown): number | null {
  return typeof v === 'number' ? v * 60_000 : null;
}

function jobPlan(id: string, job: Obj, doc: Obj, ctx: GithubContext, matrix: Obj, label: string): JobPlan {
  const jobTimeout = minutes(job['timeout-minutes']) ?? 360 * 60_000;
  const defaultShell = obj(obj(job['defaults'])['run'])['shell'] ?? obj(obj(doc['defaults'])['run'])['shell'];
  const steps: StepPlan[] = arr(job['steps']).map(obj).map((step, i): StepPlan => {
    const name = typeof step['name'] === 'string' ? expand(step['name'], ctx, matrix) : String(step['uses'] ?? step['run'] ?? `step ${i + 1}`);
    const condition = step['if'];
    if (condition !== undefined && condition !== 'always()') throw new Error(`step "${name}": the e2e reader does not evaluate if: ${String(condition)}`);
    const common = {
      name,
      shell: shellOf(step['shell'] ?? defaultShell),
      env: envOf(step['env'], ctx, matrix),
      always: condition === 'always()',
      timeoutMs: Math.min(minutes(step['timeout-minutes']) ?? jobTimeout, jobTimeout, ctx.maxStepMs),
    };
    if (typeof step['uses'] === 'string') {
      const uses = step['uses'];
      if (uses.startsWith('nrwl/nx-set-shas@')) {
        return { ...common, command: null, skipReason: `${uses}: stood in for by NX_BASE/NX_HEAD`, exports: { NX_BASE: ctx.shas.base, NX_HEAD: ctx.shas.head } };
      }
      return { ...common, command: null, skipReason: `${uses}: the workspace copy stands in for it` };
    }
    if (typeof step['run'] !== 'string') throw new Error(`step "${name}" has neither run: nor uses:`);
    if (step['run'].includes('${{')) throw new Error(`step "${name}": a run: step with \${{ }} cannot be run as plain shell: ${step['run']}`);
    if (isInstallCommand(step['run'])) return { ...common, command: null, skipReason: `${step['run']}: ${INSTALL_SKIPPED}` };
    return { ...common, command: step['run'] };
  });
  const jobEnv = { ...envOf(doc['env'], ctx, matrix), ...envOf(job['env'], ctx, matrix) };
  return {
    name: label,
    steps,
    env: (workspace) => ({
      // GitHub's own variables, the same in every job of one workflow run but GITHUB_JOB
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_RUN_ID: ctx.runId,
      GITHUB_RUN_ATTEMPT: ctx.runAttempt,
      GITHUB_RUN_NUMBER: '1',
      GITHUB_REF_NAME: ctx.branch,
      GITHUB_REF: `refs/heads/${ctx.branch}`,
      GITHUB_SHA: ctx.shas.head,
      GITHUB_EVENT_NAME: 'push',
      GITHUB_JOB: id,
      GITHUB_WORKSPACE: workspace,
      RUNNER_OS: 'Linux',
      ...jobEnv,
    }),
  };
}

/** The main job (the one without a matrix) and one agent job per matrix entry. */
export function readGithubWorkflow(doc: unknown, ctx: GithubContext): PipelinePlan {
  const d = obj(doc);
  const jobs = Object.entries(obj(d['jobs'])).map(([id, job]) => [id, obj(job)] as const);
  const withMatrix = jobs.filter(([, job]) => Object.keys(obj(obj(job['strategy'])['matrix'])).length > 0);
  const plain = jobs.filter(([, job]) => !withMatrix.some(([, m]) => m === job));
  if (plain.length !== 1 || withMatrix.length !== 1) {
    throw new Error(`expected one main job and one matrix (agents) job, got ${jobs.map(([id]) => id).join(', ')}`);
  }
  const [mainId, main] = plain[0];
  const [agentsId, agents] = withMatrix[0];
  const matrix = obj(obj(agents['strategy'])['matrix']);
  const axes = Object.entries(matrix);
  if (axes.length !== 1) throw new Error(`the e2e reader expects a one-axis matrix, got ${JSON.stringify(matrix)}`);
  const [axis, values] = axes[0];
  return {
    main: jobPlan(mainId, main, d, ctx, {}, mainId),
    agents: arr(values).map((value) => jobPlan(agentsId, agents, d, ctx, { [axis]: value }, `${agentsId} (${axis} ${String(value)})`)),
  };
}
