import { names, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { ciWorkflowGenerator } from './ci-workflow';
import { pipelineShape } from './pipeline-shape';
import { CI_PROVIDERS, type CiProvider, type CiWorkflowGeneratorSchema } from './schema';
import schemaJson from './schema.json';

type Pm = 'npm' | 'yarn' | 'pnpm';
const LOCKFILE: Record<Pm, [string, string]> = {
  npm: ['package-lock.json', '{"lockfileVersion":3}\n'],
  yarn: ['yarn.lock', '# yarn lockfile v1\n'],
  pnpm: ['pnpm-lock.yaml', "lockfileVersion: '9.0'\n"],
};
const INSTALL: Record<Pm, string> = {
  npm: 'npm ci',
  yarn: 'yarn install --frozen-lockfile',
  pnpm: 'pnpm install --frozen-lockfile',
};
const EXEC: Record<Pm, string> = { npm: 'npx', yarn: 'yarn', pnpm: 'pnpm exec' };
const FILE: Record<CiProvider, string> = {
  github: '.github/workflows/ci.yml',
  circleci: '.circleci/config.yml',
  azure: 'azure-pipelines.yml',
  gitlab: '.gitlab-ci.yml',
  'bitbucket-pipelines': 'bitbucket-pipelines.yml',
};
/** How each provider may mention the token: a reference to its secret store, never a value. */
const TOKEN_REFERENCE: Record<CiProvider, RegExp | null> = {
  github: /^\$\{\{ secrets\.FLEET_TOKEN \}\}$/,
  circleci: null,
  azure: /^\$\(FLEET_TOKEN\)$/,
  gitlab: null,
  'bitbucket-pipelines': null,
};

function workspace(pm: Pm): Tree {
  const tree = createTreeWithEmptyWorkspace();
  const [file, content] = LOCKFILE[pm];
  tree.write(file, content);
  return tree;
}

async function generate(tree: Tree, options: CiWorkflowGeneratorSchema): Promise<{ text: string; doc: unknown }> {
  await ciWorkflowGenerator(tree, options);
  const path = options.ci === 'github' ? `.github/workflows/${names(options.name ?? 'CI').fileName}.yml` : FILE[options.ci];
  const text = tree.read(path, 'utf-8') ?? '';
  return { text, doc: parse(text, { merge: true }) };
}

/** Every value stored under a key named `key`, anywhere in the document. */
function valuesOf(doc: unknown, key: string): unknown[] {
  if (Array.isArray(doc)) return doc.flatMap((d) => valuesOf(d, key));
  if (doc && typeof doc === 'object') {
    return Object.entries(doc).flatMap(([k, v]) => (k === key ? [v, ...valuesOf(v, key)] : valuesOf(v, key)));
  }
  return [];
}

const SECRET = 'fleet-test-token-do-not-write';
beforeAll(() => {
  process.env['FLEET_TOKEN'] = SECRET;
});
afterAll(() => {
  delete process.env['FLEET_TOKEN'];
});

describe.each(CI_PROVIDERS)('ci-workflow --ci=%s', (ci) => {
  describe.each(['npm', 'yarn', 'pnpm'] as const)('with %s', (pm) => {
    it('has a main job and N agent jobs with the Fleet commands in order', async () => {
      const { doc } = await generate(workspace(pm), { ci, agents: 4 });
      const shape = pipelineShape(ci, doc);
      const x = EXEC[pm];
      const at = (cmds: string[], needle: string): number => cmds.findIndex((c) => c.includes(needle));
      expect(at(shape.main, INSTALL[pm])).toBeGreaterThanOrEqual(0);
      expect(at(shape.main, INSTALL[pm])).toBeLessThan(at(shape.main, `${x} nx-fleet start-ci-run --agents 4`));
      expect(at(shape.main, 'nx-fleet start-ci-run')).toBeLessThan(at(shape.main, `${x} nx affected -t lint test build`));
      expect(shape.main.some((c) => c.includes('stop-all-agents'))).toBe(false);
      expect(shape.mainAlways).toHaveLength(1);
      expect(shape.mainAlways[0]).toContain(`${x} nx-fleet stop-all-agents`);
      expect(at(shape.agent, INSTALL[pm])).toBeLessThan(at(shape.agent, `${x} nx-fleet start-agent --name "$FLEET_AGENT_NAME"`));
      expect(shape.agent.some((c) => c.includes('start-ci-run') || c.includes('nx affected'))).toBe(false);
      expect(shape.agentCount).toBe(4);
      if (shape.agentNames.length > 0) expect(new Set(shape.agentNames).size).toBe(4);
      if (ci !== 'circleci') {
        expect(shape.timeouts.main).toBe(60);
        expect(shape.timeouts.agent).toBe(60);
      }
    });

    it('writes no secret inline', async () => {
      const { text, doc } = await generate(workspace(pm), { ci });
      expect(text).not.toContain(SECRET);
      expect(text).not.toMatch(/https?:\/\/(?!fleet\.example\.com)/);
      const reference = TOKEN_REFERENCE[ci];
      const tokens = valuesOf(doc, 'FLEET_TOKEN');
      if (reference) {
        expect(tokens.length).toBeGreaterThan(0);
        for (const t of tokens) expect(String(t)).toMatch(reference);
      } else {
        expect(tokens).toEqual([]);
      }
      for (const u of valuesOf(doc, 'FLEET_URL')) expect(String(u)).toBe('${{ vars.FLEET_URL }}');
    });
  });

  it('matches its snapshot (npm, defaults)', async () => {
    const { text } = await generate(workspace('npm'), { ci });
    expect(text).toMatchSnapshot();
  });

  it('adds the pipeline to namedInputs.sharedGlobals once', async () => {
    const tree = workspace('npm');
    await generate(tree, { ci });
    await generate(tree, { ci, overwrite: true });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.namedInputs.sharedGlobals).toEqual([`{workspaceRoot}/${FILE[ci]}`]);
    expect(nxJson.namedInputs.default).toContain('sharedGlobals');
  });

  it('refuses to overwrite an existing file unless --overwrite', async () => {
    const tree = workspace('npm');
    tree.write(FILE[ci], 'mine: true\n');
    await expect(ciWorkflowGenerator(tree, { ci })).rejects.toThrow(/already exists.*--overwrite/);
    expect(tree.read(FILE[ci], 'utf-8')).toBe('mine: true\n');
    await ciWorkflowGenerator(tree, { ci, overwrite: true });
    expect(tree.read(FILE[ci], 'utf-8')).toContain('nx-fleet start-ci-run');
  });

  it('uses the main branch from nx.json and the Node version the workspace declares', async () => {
    const tree = workspace('npm');
    const nxJson = readJson(tree, 'nx.json');
    tree.write('nx.json', JSON.stringify({ ...nxJson, defaultBase: 'origin/trunk' }));
    tree.write('.nvmrc', 'v22.11.0\n');
    const { text } = await generate(tree, { ci });
    expect(text).toContain('"trunk"');
    expect(text).not.toMatch(/"main"/);
    expect(text).toContain('22.11.0');
  });
});

describe('ci-workflow details', () => {
  it('GitHub: triggers, least privilege, full history, nx-set-shas, self-contained run steps', async () => {
    const { doc } = await generate(workspace('npm'), { ci: 'github', name: 'Fleet CI', agents: 2 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.on).toEqual({ push: { branches: ['main'] }, pull_request: null });
    expect(d.permissions).toEqual({ actions: 'read', contents: 'read' });
    expect(d.name).toBe('Fleet CI');
    expect(d.jobs.main.steps[0].with['fetch-depth']).toBe(0);
    expect(d.jobs.main.steps.map((s: { uses?: string }) => s.uses).filter(Boolean)).toContain('nrwl/nx-set-shas@v4');
    const setupNode = d.jobs.main.steps.find((s: { uses?: string }) => s.uses === 'actions/setup-node@v4');
    expect(setupNode.with).toEqual({ 'node-version': '20', cache: 'npm' });
    const runs = [...d.jobs.main.steps, ...d.jobs.agents.steps].map((s: { run?: string }) => s.run).filter(Boolean);
    for (const run of runs) expect(run).not.toContain('${{');
    expect(d.jobs.agents.strategy).toEqual({ 'fail-fast': false, matrix: { agent: [1, 2] } });
    expect(d.jobs.main.needs).toBeUndefined();
  });

  it('GitHub: the file name is file-ified from --name', async () => {
    const tree = workspace('npm');
    await ciWorkflowGenerator(tree, { ci: 'github', name: 'My Pipeline' });
    expect(tree.exists('.github/workflows/my-pipeline.yml')).toBe(true);
  });

  it('GitHub pnpm: pnpm/action-setup comes before setup-node; a packageManager pin is left to the action', async () => {
    const tree = workspace('pnpm');
    tree.write('package.json', JSON.stringify({ name: 'w', packageManager: 'pnpm@9.15.0' }));
    const { doc } = await generate(tree, { ci: 'github' });
    const uses = (doc as any).jobs.main.steps.map((s: { uses?: string }) => s.uses ?? ''); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(uses.indexOf('pnpm/action-setup@v4')).toBeLessThan(uses.indexOf('actions/setup-node@v4'));
    expect((doc as any).jobs.main.steps.find((s: { uses?: string }) => s.uses === 'pnpm/action-setup@v4').with).toBeUndefined(); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  it('yarn berry: --immutable and corepack', async () => {
    const tree = workspace('yarn');
    tree.write('.yarnrc.yml', 'nodeLinker: node-modules\n');
    const { text } = await generate(tree, { ci: 'gitlab' });
    expect(text).toContain('yarn install --immutable');
    expect(text).toContain('corepack enable');
  });

  it('CircleCI: nx orb set-shas, matrix of distinct names, stop under when: always', async () => {
    const { doc } = await generate(workspace('npm'), { ci: 'circleci', agents: 3 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.orbs.nx).toMatch(/^nrwl\/nx@/);
    expect(d.jobs.main.steps.some((s: Record<string, unknown>) => 'nx/set-shas' in Object(s))).toBe(true);
    expect(d.workflows.ci.jobs[1].agent.matrix.parameters['agent-name']).toEqual(['agent-1', 'agent-2', 'agent-3']);
    expect(d.jobs.agent.environment.FLEET_AGENT_NAME).toBe('<< parameters.agent-name >>');
  });

  it('Azure: merge-base on PRs else HEAD~1, parallel strategy, stop under condition: always()', async () => {
    const { text, doc } = await generate(workspace('npm'), { ci: 'azure', agents: 5 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.trigger.branches.include).toEqual(['main']);
    expect(d.pr.branches.include).toEqual(['main']);
    expect(text).toContain('git merge-base "$TARGET" HEAD');
    expect(text).toContain('git rev-parse HEAD~1');
    expect(d.jobs[1].strategy.parallel).toBe(5);
    expect(d.jobs[0].steps[0].fetchDepth).toBe(0);
  });

  it('GitLab: rules for MRs and main, GIT_DEPTH 0, its own base/head variables, one agent without parallel', async () => {
    const { doc } = await generate(workspace('npm'), { ci: 'gitlab', agents: 1 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.workflow.rules.map((r: { if: string }) => r.if)).toEqual([
      '$CI_PIPELINE_SOURCE == "merge_request_event"',
      '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"',
    ]);
    expect(d.variables.GIT_DEPTH).toBe('0');
    expect(d['fleet-main'].script.join('\n')).toContain('CI_MERGE_REQUEST_DIFF_BASE_SHA');
    expect(d['fleet-agent'].parallel).toBeUndefined();
    expect(d['fleet-agent'].variables.FLEET_AGENT_NAME).toBe('agent-1');
  });

  it('Bitbucket: full clone, PR and main pipelines, main + N parallel steps, after-script stop', async () => {
    const { doc } = await generate(workspace('npm'), { ci: 'bitbucket-pipelines', agents: 3 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.clone.depth).toBe('full');
    for (const group of [d.pipelines['pull-requests']['**'], d.pipelines.branches.main]) {
      const steps = group[0].parallel.map((p: { step: { name: string } }) => p.step.name);
      expect(steps).toEqual(['Fleet main', 'Fleet agent 1', 'Fleet agent 2', 'Fleet agent 3']);
    }
    expect(d.definitions.steps[0].step['after-script']).toEqual(['npx nx-fleet stop-all-agents']);
    expect(d.definitions.steps[0].step.script.join('\n')).toContain('BITBUCKET_PR_DESTINATION_BRANCH');
  });
});

describe('ci-workflow bad input', () => {
  const ajv = new Ajv({ strict: false, useDefaults: true });
  const { $schema: _ignored, ...nxSchema } = schemaJson; // Nx's meta-schema URL, not a JSON Schema draft
  void _ignored;
  const validate = ajv.compile(nxSchema);

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown --ci', { ci: 'jenkins' }, /--ci must be one of/],
    ['--agents=0', { ci: 'github', agents: 0 }, /--agents must be a whole number from 1 to 50/],
    ['--agents=51', { ci: 'github', agents: 51 }, /--agents must be a whole number from 1 to 50/],
    ['--agents=2.5', { ci: 'github', agents: 2.5 }, /--agents/],
    ['a name not starting with a letter', { ci: 'github', name: '1st' }, /--name must start with a letter/],
    ['a bad target', { ci: 'github', targets: 'lint,te st' }, /--targets/],
  ])('%s: schema.json rejects it, the generator throws and writes nothing', async (_label, options, message) => {
    expect(validate({ ...options })).toBe(false);
    const tree = workspace('npm');
    const before = tree.listChanges().map((c) => [c.path, c.content?.toString()]);
    await expect(ciWorkflowGenerator(tree, options as unknown as CiWorkflowGeneratorSchema)).rejects.toThrow(message);
    expect(tree.listChanges().map((c) => [c.path, c.content?.toString()])).toEqual(before);
  });

  it('schema.json accepts the defaults', () => {
    const options: Record<string, unknown> = { ci: 'gitlab' };
    expect(validate(options)).toBe(true);
    expect(options).toMatchObject({ name: 'CI', agents: 3, targets: 'lint,test,build', timeoutMinutes: 60, overwrite: false });
  });
});
