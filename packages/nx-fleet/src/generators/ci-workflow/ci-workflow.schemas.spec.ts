import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ciWorkflowGenerator } from './ci-workflow';
import { pipelinePath } from './normalize-options';
import type { CiProvider } from './schema';

/**
 * Every generated GitHub, CircleCI and Azure file is validated against the provider's
 * official schema from ../shared/ci-schemas (see its README for the ajv settings).
 */
const repoRoot = resolve(__dirname, '../../../../..');
const schemasDir = resolve(repoRoot, '../shared/ci-schemas');
const haveSchemas = existsSync(schemasDir);
if (!haveSchemas) {
  console.warn(`SKIPPED: CI schema validation, because ${schemasDir} is absent (CI always has it).`);
}
const describeWithSchemas = haveSchemas ? describe : describe.skip;

type Validated = Exclude<CiProvider, 'gitlab' | 'bitbucket-pipelines'>;
const load = (file: string): object => JSON.parse(readFileSync(resolve(schemasDir, file), 'utf8')) as object;

function compile(ci: Validated): ValidateFunction {
  switch (ci) {
    case 'github':
      return new Ajv({ strict: false }).compile(load('github-workflow.json'));
    case 'circleci': {
      const ajv = new Ajv({ strict: false });
      addFormats(ajv);
      return ajv.compile(load('circleciconfig.json'));
    }
    case 'azure':
      return new Ajv({ strict: false, unicodeRegExp: false, coerceTypes: true }).compile(load('azure-pipelines.json'));
    default: {
      const never: never = ci;
      throw new Error(String(never));
    }
  }
}

const LOCKFILES = {
  npm: ['package-lock.json', '{"lockfileVersion":3}\n'],
  yarn: ['yarn.lock', '# yarn lockfile v1\n'],
  'yarn-berry': ['yarn.lock', '__metadata:\n  version: 8\n'],
  pnpm: ['pnpm-lock.yaml', "lockfileVersion: '9.0'\n"],
} as const;

describeWithSchemas.each<Validated>(['github', 'circleci', 'azure'])('%s pipelines validate against the official schema', (ci) => {
  let validate: ValidateFunction;
  beforeAll(() => {
    validate = compile(ci); // Azure takes ~2.5 s: once per provider.
  });

  it.each([
    ...(Object.keys(LOCKFILES) as Array<keyof typeof LOCKFILES>).map((pm) => [pm, 3] as const),
    ['npm', 1] as const,
    ['pnpm', 50] as const,
  ])('%s, %i agent(s)', async (pm, agents) => {
    const tree = createTreeWithEmptyWorkspace();
    const [lockfile, content] = LOCKFILES[pm];
    tree.write(lockfile, content);
    if (pm === 'yarn-berry') tree.write('.yarnrc.yml', 'nodeLinker: node-modules\n');
    await ciWorkflowGenerator(tree, { ci, agents, name: 'Fleet CI', mainBranch: 'develop' });
    const text = tree.read(pipelinePath(ci, 'fleet-ci'), 'utf-8') ?? '';
    const doc: unknown = parse(text, ci === 'azure' ? { schema: 'failsafe' } : {});
    const ok = validate(doc);
    if (!ok) console.error(JSON.stringify(validate.errors?.slice(0, 5), null, 2));
    expect(ok).toBe(true);
  });

  it('the schema is strict enough to reject a broken pipeline', () => {
    const broken = { github: { on: 'push', jobs: { main: { steps: [] } } }, circleci: { version: 2.1, jobs: 'nope' }, azure: { jobs: 'nope' } };
    expect(validate(broken[ci])).toBe(false);
  });
});
