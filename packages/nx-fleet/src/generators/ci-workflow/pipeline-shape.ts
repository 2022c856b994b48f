import type { CiProvider } from './schema';

/**
 * Reads a generated pipeline (parsed YAML) back into the shape every provider shares:
 * the main job's shell commands in order, the commands that run even after a failure,
 * the agent job's commands, and how many agents it starts. Used by the tests and by
 * the planned e2e check that runs the GitHub `run:` steps for real.
 */
export interface PipelineShape {
  main: string[];
  mainAlways: string[];
  agent: string[];
  agentCount: number;
  /**
   * The FLEET_AGENT_NAME each agent job runs with: the value the file sets, with the
   * provider's per-job variable (matrix value, job position, node index, parallel step)
   * substituted as the provider would. Empty when the file sets none.
   */
  agentNames: string[];
  timeouts: { main: number | null; agent: number | null };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
const num = (v: unknown): number | null => (v === undefined || v === null ? null : Number(v));

/** `$NAME` and `${NAME}` of a POSIX shell (or GitLab variable) replaced from `vars`; unknown ones become empty. */
function shellVars(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => vars[a ?? b ?? ''] ?? '');
}

/** The FLEET_AGENT_NAME a job or one of its steps sets, if any. */
function agentNameIn(...envs: unknown[]): string | null {
  for (const env of envs) {
    const value = obj(env)['FLEET_AGENT_NAME'];
    if (value !== undefined && value !== null) return String(value);
  }
  return null;
}

function github(doc: Obj): PipelineShape {
  const jobs = obj(doc['jobs']);
  const runs = (job: Obj, always: boolean): string[] =>
    arr(job['steps'])
      .map(obj)
      .filter((s) => typeof s['run'] === 'string' && (s['if'] === 'always()') === always)
      .map((s) => String(s['run']));
  const main = obj(jobs['main']);
  const agents = obj(jobs['agents']);
  const matrix = arr(obj(obj(agents['strategy'])['matrix'])['agent']);
  const name = agentNameIn(agents['env'], ...arr(agents['steps']).map((st) => obj(st)['env']));
  return {
    main: runs(main, false),
    mainAlways: runs(main, true),
    agent: runs(agents, false),
    agentCount: matrix.length,
    agentNames: name === null ? [] : matrix.map((m) => name.replace(/\$\{\{\s*matrix\.agent\s*\}\}/g, String(m))),
    timeouts: { main: num(main['timeout-minutes']), agent: num(agents['timeout-minutes']) },
  };
}

function circleci(doc: Obj): PipelineShape {
  const commands = obj(doc['commands']);
  const jobs = obj(doc['jobs']);
  const expand = (steps: unknown[], always: boolean): string[] =>
    steps.flatMap((step): string[] => {
      if (typeof step === 'string') return step in commands ? expand(arr(obj(commands[step])['steps']), always) : [];
      const run = obj(step)['run'];
      if (typeof run === 'string') return always ? [] : [run];
      const r = obj(run);
      if (typeof r['command'] !== 'string') return [];
      return (r['when'] === 'always') === always ? [r['command']] : [];
    });
  const workflows = Object.values(obj(doc['workflows'])).map(obj);
  const agentJob = workflows.flatMap((w) => arr(w['jobs'])).map(obj).find((j) => 'agent' in j);
  const values = str(obj(obj(obj(agentJob?.['agent'])['matrix'])['parameters'])['agent-name']);
  const agent = obj(jobs['agent']);
  const name = agentNameIn(agent['environment'], ...arr(agent['steps']).map((st) => obj(obj(st)['run'])['environment']));
  return {
    main: expand(arr(obj(jobs['main'])['steps']), false),
    mainAlways: expand(arr(obj(jobs['main'])['steps']), true),
    agent: expand(arr(agent['steps']), false),
    agentCount: values.length,
    agentNames: name === null ? [] : values.map((v) => name.replace(/<<\s*parameters\.agent-name\s*>>/g, v)),
    timeouts: { main: null, agent: null },
  };
}

function azure(doc: Obj): PipelineShape {
  const jobs = arr(doc['jobs']).map(obj);
  const main = jobs.find((j) => j['job'] === 'main') ?? {};
  const agents = jobs.find((j) => j['job'] === 'agents') ?? {};
  const scripts = (job: Obj, always: boolean): string[] =>
    arr(job['steps'])
      .map(obj)
      .filter((s) => typeof (s['script'] ?? s['bash']) === 'string' && (s['condition'] === 'always()') === always)
      .map((s) => String(s['script'] ?? s['bash']));
  const count = Number(obj(agents['strategy'])['parallel'] ?? 1);
  const name = agentNameIn(agents['variables'], ...arr(agents['steps']).map((st) => obj(st)['env']));
  return {
    main: scripts(main, false),
    mainAlways: scripts(main, true),
    agent: scripts(agents, false),
    agentCount: count,
    // System.JobPositionInPhase: 1..N in a job with strategy.parallel
    agentNames:
      name === null ? [] : Array.from({ length: count }, (_, i) => name.replace(/\$\(System\.JobPositionInPhase\)/g, String(i + 1))),
    timeouts: { main: num(main['timeoutInMinutes']), agent: num(agents['timeoutInMinutes']) },
  };
}

/** GitLab's `extends`: a deep merge of mappings (lists are replaced), the job's own keys winning. */
function deepMerge(base: Obj, own: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(own)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Obj, v as Obj) : v;
  }
  return out;
}

/** A GitLab job with its `extends` (one template or a list) merged in. */
export function gitlabJob(doc: unknown, name: string): Obj {
  const d = obj(doc);
  const own = obj(d[name]);
  const parents = typeof own['extends'] === 'string' ? [own['extends']] : str(own['extends']);
  const base = parents.reduce<Obj>((acc, p) => deepMerge(acc, gitlabJob(d, p)), {});
  const rest = { ...own };
  delete rest['extends'];
  return deepMerge(base, rest);
}

function gitlab(doc: Obj): PipelineShape {
  const job = (name: string): Obj => gitlabJob(doc, name);
  const main = job('fleet-main');
  const agent = job('fleet-agent');
  const timeout = (j: Obj): number | null => (typeof j['timeout'] === 'string' ? parseInt(j['timeout'], 10) : null);
  const parallel = agent['parallel'] === undefined ? null : Number(agent['parallel']);
  const name = agentNameIn(agent['variables'], doc['variables']);
  // CI_NODE_INDEX is 1..N in a job with `parallel: N`, and unset without it
  const indexes = parallel === null ? [null] : Array.from({ length: parallel }, (_, i) => String(i + 1));
  return {
    main: [...str(main['before_script']), ...str(main['script'])],
    mainAlways: str(main['after_script']),
    agent: [...str(agent['before_script']), ...str(agent['script'])],
    agentCount: parallel ?? 1,
    agentNames: name === null ? [] : indexes.map((i) => shellVars(name, i === null ? {} : { CI_NODE_INDEX: i })),
    timeouts: { main: timeout(main), agent: timeout(agent) },
  };
}

function bitbucket(doc: Obj): PipelineShape {
  const pr = arr(obj(obj(doc['pipelines'])['pull-requests'])['**']).map(obj);
  const parallel = arr(pr[0]?.['parallel']).map((p) => obj(obj(p)['step']));
  const [main = {}, ...agents] = parallel;
  const agent = agents[0] ?? {};
  // BITBUCKET_PARALLEL_STEP: the step's 0-based index in its parallel group (main is 0)
  const nameOf = (step: Obj, index: number): string | null => {
    for (const line of str(step['script'])) {
      const m = /^export FLEET_AGENT_NAME=(?:"([^"]*)"|(\S*))$/.exec(line.trim());
      if (m) return shellVars(m[1] ?? m[2] ?? '', { BITBUCKET_PARALLEL_STEP: String(index) });
    }
    return null;
  };
  const names = agents.map((a, i) => nameOf(a, i + 1));
  return {
    main: str(main['script']),
    mainAlways: str(main['after-script']),
    agent: str(agent['script']),
    agentCount: agents.length,
    agentNames: names.every((n): n is string => n !== null) ? names : [],
    timeouts: { main: num(main['max-time']), agent: num(agent['max-time']) },
  };
}

export function pipelineShape(ci: CiProvider, doc: unknown): PipelineShape {
  const d = obj(doc);
  switch (ci) {
    case 'github':
      return github(d);
    case 'circleci':
      return circleci(d);
    case 'azure':
      return azure(d);
    case 'gitlab':
      return gitlab(d);
    case 'bitbucket-pipelines':
      return bitbucket(d);
    default: {
      const never: never = ci;
      throw new Error(`Unknown CI provider ${String(never)}`);
    }
  }
}
