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
  /** The agent names a provider gives, where the file spells them out. */
  agentNames: string[];
  timeouts: { main: number | null; agent: number | null };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
const num = (v: unknown): number | null => (v === undefined || v === null ? null : Number(v));

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
  return {
    main: runs(main, false),
    mainAlways: runs(main, true),
    agent: runs(agents, false),
    agentCount: matrix.length,
    agentNames: matrix.map((m) => `agent-${String(m)}`),
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
  const names = str(obj(obj(obj(agentJob?.['agent'])['matrix'])['parameters'])['agent-name']);
  return {
    main: expand(arr(obj(jobs['main'])['steps']), false),
    mainAlways: expand(arr(obj(jobs['main'])['steps']), true),
    agent: expand(arr(obj(jobs['agent'])['steps']), false),
    agentCount: names.length,
    agentNames: names,
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
  return {
    main: scripts(main, false),
    mainAlways: scripts(main, true),
    agent: scripts(agents, false),
    agentCount: Number(obj(agents['strategy'])['parallel'] ?? 1),
    agentNames: [],
    timeouts: { main: num(main['timeoutInMinutes']), agent: num(agents['timeoutInMinutes']) },
  };
}

function gitlab(doc: Obj): PipelineShape {
  const job = (name: string): Obj => {
    const own = obj(doc[name]);
    const base = typeof own['extends'] === 'string' ? obj(doc[own['extends']]) : {};
    return { ...base, ...own };
  };
  const main = job('fleet-main');
  const agent = job('fleet-agent');
  const timeout = (j: Obj): number | null => (typeof j['timeout'] === 'string' ? parseInt(j['timeout'], 10) : null);
  return {
    main: [...str(main['before_script']), ...str(main['script'])],
    mainAlways: str(main['after_script']),
    agent: [...str(agent['before_script']), ...str(agent['script'])],
    agentCount: Number(agent['parallel'] ?? 1),
    agentNames: [],
    timeouts: { main: timeout(main), agent: timeout(agent) },
  };
}

function bitbucket(doc: Obj): PipelineShape {
  const pr = arr(obj(obj(doc['pipelines'])['pull-requests'])['**']).map(obj);
  const parallel = arr(pr[0]?.['parallel']).map((p) => obj(obj(p)['step']));
  const [main = {}, ...agents] = parallel;
  const agent = agents[0] ?? {};
  return {
    main: str(main['script']),
    mainAlways: str(main['after-script']),
    agent: str(agent['script']),
    agentCount: agents.length,
    agentNames: agents.map((a) => String(a['name'])),
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
