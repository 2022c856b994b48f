/**
 * Reads a generated azure-pipelines.yml into jobs of shell steps, as an Azure agent on
 * Linux would run them: `script:` / `bash:` steps with `bash --noprofile --norc`, macros
 * `$(Name.Sub)` replaced from the pipeline's variables before the step runs, non-secret
 * variables exported as environment (name upper-cased, `.` -> `_`), a secret only through a
 * step's `env:`, `condition: always()` honoured, `##vso[task.setvariable variable=X]v`
 * exported to the later steps, and `strategy.parallel: N` as N agent jobs
 * (System.JobPositionInPhase = 1..N). `checkout:` and `task:` steps are not run; the
 * install script is skipped (node_modules are present).
 */
import { INSTALL_SKIPPED, isInstallCommand, type JobPlan, type PipelinePlan, type StepPlan } from './pipeline';

export interface AzureContext {
  /** Pipeline variables set in the UI, with which of them are secret. */
  variables: Record<string, string>;
  secrets: Record<string, string>;
  buildId: string;
  branch: string;
  head: string;
  maxStepMs: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const envName = (name: string): string => name.toUpperCase().replace(/\./g, '_');

/** `$(Name.Sub)` macros from variables keyed by their environment name; an unknown one is left as it is (as Azure does). */
function macros(text: string, byEnvName: Record<string, string>): string {
  return text.replace(/\$\(([A-Za-z0-9_.-]+)\)/g, (whole, name: string) => byEnvName[envName(name)] ?? whole);
}

/** The YAML's `variables:` as a name -> value map (mapping form or list of { name, value }). */
function yamlVariables(raw: unknown): Record<string, string> {
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map(obj).filter((v) => typeof v['name'] === 'string').map((v) => [String(v['name']), String(v['value'] ?? '')]));
  }
  return Object.fromEntries(Object.entries(obj(raw)).map(([k, v]) => [k, String(v)]));
}

function jobPlan(job: Obj, doc: Obj, ctx: AzureContext, position: number, total: number, label: string): JobPlan {
  const plain = { ...ctx.variables, ...yamlVariables(doc['variables']), ...yamlVariables(job['variables']) };
  const jobTimeout = typeof job['timeoutInMinutes'] === 'number' ? job['timeoutInMinutes'] * 60_000 : 60 * 60_000;
  const steps: StepPlan[] = arr(job['steps']).map(obj).map((step, i): StepPlan => {
    const script = step['script'] ?? step['bash'];
    const fallback = step['checkout'] !== undefined ? `checkout: ${String(step['checkout'])}` : String(step['task'] ?? `step ${i + 1}`);
    const name = String(step['displayName'] ?? (typeof script === 'string' ? script : fallback));
    const condition = step['condition'];
    if (condition !== undefined && condition !== 'always()' && condition !== 'succeeded()') {
      throw new Error(`step "${name}": the e2e reader does not evaluate condition: ${String(condition)}`);
    }
    const stepTimeout = typeof step['timeoutInMinutes'] === 'number' ? step['timeoutInMinutes'] * 60_000 : jobTimeout;
    const common = {
      name,
      shell: ['bash', '--noprofile', '--norc', '-c'],
      env: Object.fromEntries(Object.entries(obj(step['env'])).map(([k, v]) => [k, String(v)])),
      always: condition === 'always()',
      timeoutMs: Math.min(stepTimeout, jobTimeout, ctx.maxStepMs),
    };
    if (typeof script !== 'string') {
      const what = step['task'] !== undefined ? `task ${String(step['task'])}` : 'checkout';
      return { ...common, command: null, skipReason: `${what}: the workspace copy and the test's Node stand in for it` };
    }
    if (isInstallCommand(script)) return { ...common, command: null, skipReason: `${script}: ${INSTALL_SKIPPED}` };
    return { ...common, command: script };
  });
  return {
    name: label,
    steps,
    env: (workspace) => {
      const system: Record<string, string> = {
        'Build.BuildId': ctx.buildId,
        'Build.Reason': 'IndividualCI',
        'Build.SourceBranch': `refs/heads/${ctx.branch}`,
        'Build.SourceBranchName': ctx.branch,
        'Build.SourceVersion': ctx.head,
        'System.JobPositionInPhase': String(position),
        'System.TotalJobsInPhase': String(total),
        'Pipeline.Workspace': `${workspace}/.fleet-e2e/pipeline-workspace`,
        'Agent.OS': 'Linux',
        TF_BUILD: 'True',
      };
      return Object.fromEntries(Object.entries({ ...system, ...plain }).map(([k, v]) => [envName(k), v]));
    },
    // a variable's macro is its exported value; a secret has no environment variable but still expands
    expand: (text, env) => macros(text, { ...env, ...Object.fromEntries(Object.entries(ctx.secrets).map(([k, v]) => [envName(k), v])) }),
    exportsFromOutput: (stdout) => {
      const out: Record<string, string> = {};
      for (const m of stdout.matchAll(/^##vso\[task\.setvariable variable=([^;\]]+)(?:;[^\]]*)?\](.*)$/gm)) out[envName(m[1])] = m[2].trim();
      return out;
    },
  };
}

export function readAzurePipeline(doc: unknown, ctx: AzureContext): PipelinePlan {
  const d = obj(doc);
  const jobs = arr(d['jobs']).map(obj);
  const parallel = jobs.filter((j) => obj(j['strategy'])['parallel'] !== undefined);
  const others = jobs.filter((j) => !parallel.includes(j));
  if (parallel.length !== 1 || others.length !== 1) {
    throw new Error(`expected one main job and one parallel (agents) job, got ${jobs.map((j) => String(j['job'])).join(', ')}`);
  }
  const main = others[0];
  const agents = parallel[0];
  const count = Number(obj(agents['strategy'])['parallel']);
  return {
    main: jobPlan(main, d, ctx, 1, 1, String(main['job'])),
    agents: Array.from({ length: count }, (_, i) => jobPlan(agents, d, ctx, i + 1, count, `${String(agents['job'])} (${i + 1} of ${count})`)),
  };
}
