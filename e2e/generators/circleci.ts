/**
 * Reads a generated .circleci/config.yml into jobs of shell steps, as CircleCI's docker
 * executor would run them: `run:` commands with `/bin/bash -eo pipefail` (CircleCI's default
 * shell), reusable `commands:` expanded, `<< parameters.x >>` substituted, `when: always`
 * honoured, one agent job per value of the workflow's matrix. `checkout`, caches and the
 * nx/set-shas orb (replaced by the NX_BASE / NX_HEAD it exports) are not run; the install
 * command is skipped (node_modules are present).
 */
import { INSTALL_SKIPPED, isInstallCommand, type JobPlan, type PipelinePlan, type StepPlan } from './pipeline';

export interface CircleContext {
  /** Project environment variables (Project Settings > Environment Variables). */
  projectEnv: Record<string, string>;
  shas: { base: string; head: string };
  workflowId: string;
  branch: string;
  maxStepMs: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const SHELL = ['/bin/bash', '-eo', 'pipefail', '-c'];
/** Built-in steps that only fetch code or caches: the workspace copy stands in for them. */
const BUILTIN = new Set(['checkout', 'restore_cache', 'save_cache', 'persist_to_workspace', 'attach_workspace', 'store_artifacts', 'store_test_results']);

function substitute(text: string, parameters: Record<string, string>): string {
  return text.replace(/<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>/g, (_, name: string) => {
    if (!(name in parameters)) throw new Error(`<< parameters.${name} >> has no value`);
    return parameters[name];
  });
}

function steps(raw: unknown[], doc: Obj, ctx: CircleContext, parameters: Record<string, string>): StepPlan[] {
  const commands = obj(doc['commands']);
  return raw.flatMap((step): StepPlan[] => {
    const [key, body] = typeof step === 'string' ? [step, {}] : (Object.entries(obj(step))[0] ?? ['?', {}]);
    const skipped = (name: string, why: string, exports?: Record<string, string>): StepPlan => ({
      name,
      command: null,
      skipReason: why,
      shell: SHELL,
      env: {},
      always: false,
      timeoutMs: 0,
      exports,
    });
    if (key === 'run') {
      const run = typeof body === 'string' ? { command: body } : obj(body);
      const command = substitute(String(run['command']), parameters);
      const name = typeof run['name'] === 'string' ? run['name'] : command;
      if (run['when'] !== undefined && run['when'] !== 'always' && run['when'] !== 'on_success') {
        throw new Error(`step "${name}": the e2e reader does not evaluate when: ${String(run['when'])}`);
      }
      if (isInstallCommand(command)) return [skipped(name, `${command}: ${INSTALL_SKIPPED}`)];
      return [
        {
          name,
          command,
          shell: typeof run['shell'] === 'string' ? [...run['shell'].split(/\s+/), '-c'] : SHELL,
          env: Object.fromEntries(Object.entries(obj(run['environment'])).map(([k, v]) => [k, substitute(String(v), parameters)])),
          always: run['when'] === 'always',
          timeoutMs: ctx.maxStepMs,
        },
      ];
    }
    if (key in commands) return steps(arr(obj(commands[key])['steps']), doc, ctx, { ...parameters, ...stringMap(body) });
    if (key === 'nx/set-shas') return [skipped(key, 'orb nx/set-shas: stood in for by NX_BASE/NX_HEAD', { NX_BASE: ctx.shas.base, NX_HEAD: ctx.shas.head })];
    if (BUILTIN.has(key)) return [skipped(key, `${key}: the workspace copy stands in for it`)];
    throw new Error(`the e2e CircleCI reader does not know the step ${key}`);
  });
}

function stringMap(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k, String(x)]));
}

function jobPlan(id: string, doc: Obj, ctx: CircleContext, parameters: Record<string, string>, label: string, buildNum: number): JobPlan {
  const job = obj(obj(doc['jobs'])[id]);
  const jobEnv = Object.fromEntries(Object.entries(obj(job['environment'])).map(([k, v]) => [k, substitute(String(v), parameters)]));
  return {
    name: label,
    steps: steps(arr(job['steps']), doc, ctx, parameters),
    env: (workspace) => ({
      CI: 'true',
      CIRCLECI: 'true',
      CIRCLE_WORKFLOW_ID: ctx.workflowId,
      CIRCLE_BRANCH: ctx.branch,
      CIRCLE_SHA1: ctx.shas.head,
      CIRCLE_JOB: id,
      CIRCLE_BUILD_NUM: String(buildNum),
      CIRCLE_WORKING_DIRECTORY: workspace,
      ...ctx.projectEnv,
      ...jobEnv,
    }),
  };
}

/** The workflow's main job, and one agent job per combination of its matrix (one parameter). */
export function readCircleConfig(doc: unknown, ctx: CircleContext): PipelinePlan {
  const d = obj(doc);
  const workflows = Object.values(obj(d['workflows'])).map(obj);
  if (workflows.length !== 1) throw new Error(`expected one workflow, got ${workflows.length}`);
  const entries = arr(workflows[0]['jobs']).map((j) => (typeof j === 'string' ? ([j, {}] as const) : (Object.entries(obj(j))[0] as [string, unknown])));
  const withMatrix = entries.filter(([, conf]) => obj(conf)['matrix'] !== undefined);
  const plain = entries.filter(([, conf]) => obj(conf)['matrix'] === undefined);
  if (plain.length !== 1 || withMatrix.length !== 1) throw new Error(`expected one main job and one matrix job, got ${entries.map(([id]) => id).join(', ')}`);
  const [agentId, agentConf] = withMatrix[0];
  const axes = Object.entries(obj(obj(obj(agentConf)['matrix'])['parameters']));
  if (axes.length !== 1) throw new Error('the e2e reader expects a one-parameter matrix');
  const [param, values] = axes[0];
  return {
    main: jobPlan(plain[0][0], d, ctx, {}, plain[0][0], 1),
    agents: arr(values).map((value, i) => jobPlan(agentId, d, ctx, { [param]: String(value) }, `${agentId} (${String(value)})`, i + 2)),
  };
}
