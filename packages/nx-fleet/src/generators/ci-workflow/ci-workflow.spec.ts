import { names, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import Ajv from 'ajv';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ciWorkflowGenerator } from './ci-workflow';
import { gitlabJob, pipelineShape } from './pipeline-shape';
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
const EXEC: Record<Pm, string> = { npm: 'npx --no', yarn: 'yarn', pnpm: 'pnpm exec' };
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

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every Node version a generated file sets up (setup-node, NodeTool, the node:<v> images), as written. */
function nodeVersions(ci: CiProvider, doc: unknown): string[] {
  const d = doc as Obj;
  switch (ci) {
    case 'github':
      return Object.values(d.jobs as Obj).flatMap((job: Obj) =>
        (job.steps as Obj[]).filter((st) => st.uses === 'actions/setup-node@v4').map((st) => String(st.with['node-version'])),
      );
    case 'circleci':
      return (d.executors.node.docker as Obj[]).map((i) => String(i.image).replace(/^node:/, ''));
    case 'azure':
      return (d.jobs as Obj[]).flatMap((job) =>
        (job.steps as Obj[]).filter((st) => st.task === 'NodeTool@0').map((st) => String(st.inputs.versionSpec).replace(/\.x$/, '')),
      );
    case 'gitlab':
      return [String(d.default.image).replace(/^node:/, '')];
    case 'bitbucket-pipelines':
      return [String(d.image).replace(/^node:/, '')];
    default: {
      const never: never = ci;
      throw new Error(String(never));
    }
  }
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
      // the FLEET_AGENT_NAME each agent job gets, read from the file's env with the provider's per-job variable
      expect(shape.agentNames).toHaveLength(4);
      expect(new Set(shape.agentNames).size).toBe(4);
      for (const name of shape.agentNames) expect(name).toMatch(/^agent-[1-4]$/);
      if (pm === 'pnpm' && ci !== 'github') {
        // a plain node:<v> container (or Azure's image) has no pnpm: it is installed before the install, in both jobs
        for (const cmds of [shape.main, shape.agent]) {
          expect(at(cmds, 'npm install --global pnpm@9')).toBeGreaterThanOrEqual(0);
          expect(at(cmds, 'npm install --global pnpm@9')).toBeLessThan(at(cmds, INSTALL[pm]));
        }
      }
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

  it.each(['yarn', 'pnpm'] as const)('matches its snapshot (%s)', async (pm) => {
    const { text } = await generate(workspace(pm), { ci });
    expect(text).toMatchSnapshot();
  });

  it('applies --timeoutMinutes to every job', async () => {
    const { text, doc } = await generate(workspace('npm'), { ci, timeoutMinutes: 45 });
    const shape = pipelineShape(ci, doc);
    if (ci === 'circleci') {
      // no job time-out in CircleCI config: the long commands run under `timeout`
      expect(shape.main.find((c) => c.includes('nx affected'))).toMatch(/^timeout 45m /);
      expect(shape.agent.find((c) => c.includes('start-agent'))).toMatch(/^timeout 45m /);
    } else {
      expect(shape.timeouts).toEqual({ main: 45, agent: 45 });
    }
    expect(text).not.toMatch(/\b60\b/);
  });

  it('says how to retry: a whole new attempt, never only the failed main job', async () => {
    const { text } = await generate(workspace('npm'), { ci });
    const advice: Record<CiProvider, RegExp> = {
      github: /# Retrying: use "Re-run all jobs"/,
      circleci: /# Retrying: use "Rerun workflow from start"/,
      azure: /# Retrying: queue a new run \("Run new"\)/,
      gitlab: /# Retrying: run a new pipeline/,
      'bitbucket-pipelines': /# Retrying: rerun the whole pipeline/,
    };
    expect(text).toMatch(advice[ci]);
  });

  it('sets up the Node version from engines.node when nothing else declares one', async () => {
    const tree = workspace('npm');
    tree.write('package.json', JSON.stringify({ name: 'w', engines: { node: '>=22.1.0 <23' } }));
    const { doc } = await generate(tree, { ci });
    const versions = nodeVersions(ci, doc);
    expect(versions.length).toBeGreaterThan(0);
    expect(new Set(versions)).toEqual(new Set(['22']));
  });

  it('sets up the Node version from .node-version', async () => {
    const tree = workspace('npm');
    tree.write('.node-version', '18.20.4\n');
    tree.write('package.json', JSON.stringify({ name: 'w', engines: { node: '>=22' } }));
    const { doc } = await generate(tree, { ci });
    expect(new Set(nodeVersions(ci, doc))).toEqual(new Set(['18.20.4']));
  });

  it('skips an alias like lts/* in .nvmrc: the next declaration, else Node 20', async () => {
    const alias = workspace('npm');
    alias.write('.nvmrc', 'lts/*\n');
    expect(new Set(nodeVersions(ci, (await generate(alias, { ci })).doc))).toEqual(new Set(['20']));
    const thenEngines = workspace('npm');
    thenEngines.write('.nvmrc', 'lts/iron\n');
    thenEngines.write('package.json', JSON.stringify({ name: 'w', engines: { node: '^22.11.0' } }));
    expect(new Set(nodeVersions(ci, (await generate(thenEngines, { ci })).doc))).toEqual(new Set(['22']));
  });

  it('yarn 2+: --immutable, corepack before the install in both jobs, and no `yarn config set` (it would rewrite the tracked .yarnrc.yml)', async () => {
    const tree = workspace('yarn');
    tree.write('.yarnrc.yml', 'nodeLinker: node-modules\n');
    const { text, doc } = await generate(tree, { ci });
    expect(text).not.toContain('yarn config set');
    expect(tree.read('.yarnrc.yml', 'utf-8')).toBe('nodeLinker: node-modules\n');
    const shape = pipelineShape(ci, doc);
    for (const cmds of [shape.main, shape.agent]) {
      const install = cmds.findIndex((c) => c === 'yarn install --immutable');
      expect(install).toBeGreaterThanOrEqual(0);
      expect(cmds.indexOf('corepack enable')).toBeGreaterThanOrEqual(0);
      expect(cmds.indexOf('corepack enable')).toBeLessThan(install);
    }
  });

  it('adds the pipeline to namedInputs.sharedGlobals once', async () => {
    const tree = workspace('npm');
    await generate(tree, { ci });
    await generate(tree, { ci, overwrite: true });
    const nxJson = readJson(tree, 'nx.json');
    expect(nxJson.namedInputs.sharedGlobals).toEqual([`{workspaceRoot}/${FILE[ci]}`]);
    // no `default` before: Nx's implicit one (every project file) is kept, plus sharedGlobals
    expect(nxJson.namedInputs.default).toEqual(['{projectRoot}/**/*', 'sharedGlobals']);
  });

  it('keeps the existing default and sharedGlobals entries, adding the pipeline once', async () => {
    const tree = workspace('npm');
    const nxJson = readJson(tree, 'nx.json');
    const namedInputs = {
      default: ['{projectRoot}/**/*', '!{projectRoot}/**/*.md'],
      sharedGlobals: ['{workspaceRoot}/babel.config.json'],
      production: ['default', '!{projectRoot}/**/*.spec.ts'],
    };
    tree.write('nx.json', JSON.stringify({ ...nxJson, namedInputs }));
    await generate(tree, { ci });
    await generate(tree, { ci, overwrite: true });
    const after = readJson(tree, 'nx.json').namedInputs;
    expect(after.sharedGlobals).toEqual(['{workspaceRoot}/babel.config.json', `{workspaceRoot}/${FILE[ci]}`]);
    expect(after.default).toEqual(['{projectRoot}/**/*', '!{projectRoot}/**/*.md', 'sharedGlobals']);
    expect(after.production).toEqual(namedInputs.production);
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

describe('ci-workflow package-manager caches', () => {
  const LOCK: Record<Pm, string> = { npm: 'package-lock.json', yarn: 'yarn.lock', pnpm: 'pnpm-lock.yaml' };

  it.each(['npm', 'yarn', 'pnpm'] as const)('GitHub %s: setup-node caches it; pnpm is set up before setup-node in both jobs', async (pm) => {
    const { doc } = await generate(workspace(pm), { ci: 'github' });
    for (const job of ['main', 'agents']) {
      const steps = (doc as Obj).jobs[job].steps as Obj[];
      const setupNode = steps.findIndex((st) => st.uses === 'actions/setup-node@v4');
      expect(steps[setupNode].with.cache).toBe(pm);
      const pnpmSetup = steps.findIndex((st) => st.uses === 'pnpm/action-setup@v4');
      if (pm === 'pnpm') {
        // setup-node's pnpm cache runs `pnpm store path`: pnpm must be there first
        expect(pnpmSetup).toBeGreaterThanOrEqual(0);
        expect(pnpmSetup).toBeLessThan(setupNode);
        expect(steps[pnpmSetup].with).toEqual({ version: '9' });
      } else {
        expect(pnpmSetup).toBe(-1);
      }
    }
  });

  it.each<[Pm, string]>([
    ['npm', '~/.npm'],
    ['yarn', '~/.cache/yarn'],
    ['pnpm', '~/.local/share/pnpm/store'],
  ])('CircleCI %s: restores by lockfile with a prefix fallback, saves %s', async (pm, home) => {
    const { doc } = await generate(workspace(pm), { ci: 'circleci' });
    const steps = (doc as Obj).commands['install-dependencies'].steps as Obj[];
    const restore = steps.findIndex((st) => 'restore_cache' in st);
    const install = steps.findIndex((st) => st.run?.command === INSTALL[pm]);
    const save = steps.findIndex((st) => 'save_cache' in st);
    expect([restore < install, install < save]).toEqual([true, true]);
    const key = `${pm}-deps-v1-{{ checksum "${LOCK[pm]}" }}`;
    expect(steps[restore].restore_cache.keys).toEqual([key, `${pm}-deps-v1-`]);
    expect(steps[save].save_cache).toEqual({ key, paths: [home] });
  });

  it.each<[Pm, Record<string, string>, string | null]>([
    ['npm', {}, 'npm config set cache "$(Pipeline.Workspace)/.npm"'],
    ['yarn', { YARN_CACHE_FOLDER: '$(Pipeline.Workspace)/.yarn-cache' }, null],
    ['pnpm', {}, 'pnpm config set --global store-dir "$(Pipeline.Workspace)/.pnpm-store"'],
  ])('Azure %s: Cache@2 on the folder the package manager is pointed at, before the install, in both jobs', async (pm, env, command) => {
    const { doc } = await generate(workspace(pm), { ci: 'azure' });
    const d = doc as Obj;
    const folder = { npm: '.npm', yarn: '.yarn-cache', pnpm: '.pnpm-store' }[pm];
    expect(d.variables).toEqual({ CI: 'true', ...env });
    for (const job of d.jobs as Obj[]) {
      const steps = job.steps as Obj[];
      const cache = steps.findIndex((st) => st.task === 'Cache@2');
      const install = steps.findIndex((st) => st.script === INSTALL[pm]);
      expect(steps[cache].inputs).toEqual({
        key: `${pm} | "$(Agent.OS)" | ${LOCK[pm]}`,
        restoreKeys: `${pm} | "$(Agent.OS)"`,
        path: `$(Pipeline.Workspace)/${folder}`,
      });
      expect(cache).toBeLessThan(install);
      const point = steps.findIndex((st) => st.script === command);
      if (command) {
        expect(point).toBeGreaterThanOrEqual(0);
        expect(point).toBeLessThan(install);
      }
      if (pm === 'pnpm') {
        const setup = steps.findIndex((st) => st.script === 'npm install --global pnpm@9');
        expect(setup).toBeGreaterThanOrEqual(0);
        expect(setup).toBeLessThan(point);
      }
    }
  });

  it.each<[Pm, string, Record<string, string>, string | null]>([
    ['npm', '.npm', {}, 'npm config set cache "$CI_PROJECT_DIR/.npm"'],
    ['yarn', '.yarn-cache', { YARN_CACHE_FOLDER: '$CI_PROJECT_DIR/.yarn-cache' }, null],
    ['pnpm', '.pnpm-store', {}, 'pnpm config set --global store-dir "$CI_PROJECT_DIR/.pnpm-store"'],
  ])('GitLab %s: caches %s/ by lockfile, only main uploads, and the folder is git-ignored (Nx neither walks nor hashes it)', async (pm, folder, env, command) => {
    const tree = workspace(pm);
    const { doc } = await generate(tree, { ci: 'gitlab' });
    const d = doc as Obj;
    expect(d.variables).toEqual({ GIT_DEPTH: '0', ...env });
    const main = gitlabJob(doc, 'fleet-main');
    const agent = gitlabJob(doc, 'fleet-agent');
    expect(main.cache).toEqual({ key: { files: [LOCK[pm]] }, paths: [`${folder}/`] });
    expect(agent.cache).toEqual({ key: { files: [LOCK[pm]] }, paths: [`${folder}/`], policy: 'pull' });
    for (const job of [main, agent]) {
      const before = job.before_script as string[];
      if (command) expect(before.indexOf(command)).toBeLessThan(before.indexOf(INSTALL[pm]));
      if (command) expect(before.indexOf(command)).toBeGreaterThanOrEqual(0);
    }
    expect((tree.read('.gitignore', 'utf-8') ?? '').split('\n')).toContain(`${folder}/`);
  });

  it('GitLab: the cache folder is added to an existing .gitignore once, and left alone when already ignored', async () => {
    const tree = workspace('npm');
    tree.write('.gitignore', 'node_modules\n/dist');
    await generate(tree, { ci: 'gitlab' });
    await generate(tree, { ci: 'gitlab', overwrite: true });
    expect(tree.read('.gitignore', 'utf-8')).toBe('node_modules\n/dist\n\n# Fleet CI: the GitLab package-manager cache (kept in the checkout)\n.npm/\n');
    const ignored = workspace('npm');
    ignored.write('.gitignore', '/.npm\n');
    await generate(ignored, { ci: 'gitlab' });
    expect(ignored.read('.gitignore', 'utf-8')).toBe('/.npm\n');
    const github = workspace('npm');
    await generate(github, { ci: 'github' });
    expect(github.exists('.gitignore')).toBe(false);
  });

  it.each<[Pm, string]>([
    ['npm', '~/.npm'],
    ['yarn', '~/.cache/yarn'],
    ['pnpm', '~/.local/share/pnpm/store'],
  ])('Bitbucket %s: a cache of %s keyed on the lockfile, used by every step', async (pm, home) => {
    const { doc } = await generate(workspace(pm), { ci: 'bitbucket-pipelines' });
    const d = doc as Obj;
    expect(d.definitions.caches[`fleet-${pm}`]).toEqual({ key: { files: [LOCK[pm]] }, path: home });
    for (const step of d.definitions.steps as Obj[]) expect(step.step.caches).toEqual([`fleet-${pm}`]);
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

  it.each([
    [60, '50m'],
    [15, '5m'],
    [360, '350m'],
  ])('GitLab, a %i-minute job: the main script times out first (%s), so after_script (5m) still stops the agents', async (minutes, script) => {
    const { text, doc } = await generate(workspace('npm'), { ci: 'gitlab', timeoutMinutes: minutes });
    const main = gitlabJob(doc, 'fleet-main');
    expect(main.timeout).toBe(`${minutes} minutes`);
    expect(main.variables).toEqual({ RUNNER_SCRIPT_TIMEOUT: script, RUNNER_AFTER_SCRIPT_TIMEOUT: '5m' });
    // both fit in the job with time to spare for its start (image, clone, cache)
    expect(parseInt(script, 10) + 5).toBeLessThanOrEqual(minutes - 5);
    expect(main.after_script).toEqual(['npx --no nx-fleet stop-all-agents']);
    // agents need no after_script; their FLEET_AGENT_NAME is not overridden by the main job's variables
    expect(gitlabJob(doc, 'fleet-agent').variables).toEqual({ FLEET_AGENT_NAME: 'agent-$CI_NODE_INDEX' });
    expect(text).not.toMatch(/after_script runs even when the script failed or timed out/);
  });

  describe('Azure: the step that sets the affected base and head', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-azure-shas-'));
    // a stand-in git: rev-parse answers, merge-base fails (e.g. the target branch was not fetched)
    writeFileSync(
      join(dir, 'git'),
      '#!/bin/sh\ncase "$1" in\n  rev-parse) echo "rev-$2" ;;\n  merge-base) echo "fatal: no merge base" >&2; exit 1 ;;\nesac\n',
    );
    chmodSync(join(dir, 'git'), 0o755);
    const run = async (env: Record<string, string>): Promise<{ status: number | null; stdout: string }> => {
      const { doc } = await generate(workspace('npm'), { ci: 'azure' });
      const step = ((doc as Obj).jobs[0].steps as Obj[]).find((st) => st.displayName === 'Set the affected base and head');
      const result = spawnSync('bash', ['--noprofile', '--norc', '-c', String(step?.bash)], {
        env: { PATH: `${dir}:${process.env['PATH'] ?? ''}`, ...env },
        encoding: 'utf8',
      });
      return { status: result.status, stdout: result.stdout };
    };

    it('fails when git merge-base fails, instead of setting an empty NX_BASE', async () => {
      const result = await run({ BUILD_REASON: 'PullRequest', SYSTEM_PULLREQUEST_TARGETBRANCH: 'refs/heads/main' });
      expect(result.status).not.toBe(0);
      expect(result.stdout).not.toContain('variable=NX_BASE');
    });

    it('sets both from git otherwise', async () => {
      const result = await run({ BUILD_REASON: 'IndividualCI' });
      expect(result.status).toBe(0);
      expect(result.stdout).toBe('##vso[task.setvariable variable=NX_BASE]rev-HEAD~1\n##vso[task.setvariable variable=NX_HEAD]rev-HEAD\n');
    });
  });

  it('CircleCI: says nx/set-shas needs CIRCLE_API_TOKEN on a private repository', async () => {
    const { text } = await generate(workspace('npm'), { ci: 'circleci' });
    expect(text).toMatch(/# nx\/set-shas .*\n# private repository it needs CIRCLE_API_TOKEN \(a personal API token, not a project token\)/);
  });

  it('GitHub: an unset FLEET_URL variable is harmless (nx.json\'s url applies), and the file says so', async () => {
    const { text } = await generate(workspace('npm'), { ci: 'github' });
    expect(text).toContain('optional when\n#     nx.json has the url `nx g nx-fleet:init` wrote');
  });

  it('Bitbucket: full clone, PR and main pipelines, main + N parallel steps, after-script stop', async () => {
    const { doc } = await generate(workspace('npm'), { ci: 'bitbucket-pipelines', agents: 3 });
    const d = doc as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(d.clone.depth).toBe('full');
    for (const group of [d.pipelines['pull-requests']['**'], d.pipelines.branches.main]) {
      const steps = group[0].parallel.map((p: { step: { name: string } }) => p.step.name);
      expect(steps).toEqual(['Fleet main', 'Fleet agent 1', 'Fleet agent 2', 'Fleet agent 3']);
    }
    expect(d.definitions.steps[0].step['after-script']).toEqual(['npx --no nx-fleet stop-all-agents']);
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
    ['a name with a /', { ci: 'github', name: 'team/ci' }, /--name must start with a letter and contain none of \/ /],
    ['a name with a \\', { ci: 'github', name: 'team\\ci' }, /--name .*contain none of/],
    ['a name with a :', { ci: 'circleci', name: 'ci: main' }, /--name .*contain none of/],
    ['a name with a newline', { ci: 'github', name: 'ci\nx' }, /--name .*contain none of/],
    ['--timeoutMinutes=14', { ci: 'gitlab', timeoutMinutes: 14 }, /--timeoutMinutes must be a whole number from 15 to 360/],
    ['a bad target', { ci: 'github', targets: 'lint,te st' }, /--targets/],
  ])('%s: schema.json rejects it, the generator throws and writes nothing', async (_label, options, message) => {
    expect(validate({ ...options })).toBe(false);
    const tree = workspace('npm');
    const before = tree.listChanges().map((c) => [c.path, c.content?.toString()]);
    await expect(ciWorkflowGenerator(tree, options as unknown as CiWorkflowGeneratorSchema)).rejects.toThrow(message);
    expect(tree.listChanges().map((c) => [c.path, c.content?.toString()])).toEqual(before);
  });

  it('a name with a / writes no workflow anywhere (GitHub ignores .github/workflows/<dir>/)', async () => {
    const tree = workspace('npm');
    await expect(ciWorkflowGenerator(tree, { ci: 'github', name: 'a/b' })).rejects.toThrow(/--name/);
    expect(tree.exists('.github')).toBe(false);
    expect(tree.listChanges().filter((c) => c.path.startsWith('.github'))).toEqual([]);
  });

  it('schema.json accepts names with spaces, dots, dashes and digits, and a 15-minute time-out', () => {
    for (const name of ['CI', 'Fleet CI', 'ci.v2', 'build-and-test_2']) expect(validate({ ci: 'github', name })).toBe(true);
    expect(validate({ ci: 'gitlab', timeoutMinutes: 15 })).toBe(true);
  });

  it('schema.json accepts the defaults', () => {
    const options: Record<string, unknown> = { ci: 'gitlab' };
    expect(validate(options)).toBe(true);
    expect(options).toMatchObject({ name: 'CI', agents: 3, targets: 'lint,test,build', timeoutMinutes: 60, overwrite: false });
  });
});
