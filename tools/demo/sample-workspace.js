'use strict';
/**
 * The demo's sample workspace: a small product monorepo of nx:run-commands targets that
 * take set amounts of time (so the schedule, not the 2 CPU cores, decides the wall time)
 * and write real output files.
 */
const { execFileSync } = require('node:child_process');
const { mkdirSync, writeFileSync, symlinkSync } = require('node:fs');
const { join } = require('node:path');

/** project -> { deps, seconds per target } */
const PROJECTS = {
  util: { deps: [], build: 1.5, test: 2.0, lint: 0.5 },
  models: { deps: [], build: 1.0, test: 1.5, lint: 0.5 },
  'api-client': { deps: ['util', 'models'], build: 2.0, test: 2.5, lint: 0.5 },
  ui: { deps: ['util'], build: 2.5, test: 3.0, lint: 1.0 },
  'feature-a': { deps: ['api-client', 'ui'], build: 2.0, test: 2.0, lint: 0.5 },
  'feature-b': { deps: ['api-client', 'ui'], build: 1.5, test: 3.5, lint: 0.5 },
  app: { deps: ['feature-a', 'feature-b'], build: 3.0, test: 2.0, lint: 1.0 },
};
const TARGETS = ['build', 'test', 'lint'];

const WORK_SCRIPT = `'use strict';
// node tools/work.js <project> <target> <seconds>: waits, then writes the target's outputs
const fs = require('node:fs');
const path = require('node:path');
const [project, target, seconds] = process.argv.slice(2);
setTimeout(() => {
  const out = path.join('dist', project, target);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'result.txt'), project + ':' + target + ' done\\n');
  if (target === 'build') fs.writeFileSync(path.join('dist', project, 'index.js'), 'module.exports = ' + JSON.stringify(project) + ';\\n');
  console.log(project + ':' + target + ' finished after ' + seconds + ' s');
}, Number(seconds) * 1000);
`;

function writeSampleWorkspace(dir, repoRoot) {
  mkdirSync(join(dir, 'tools'), { recursive: true });
  writeFileSync(join(dir, 'tools/work.js'), WORK_SCRIPT);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fleet-demo', private: true }, null, 2));
  writeFileSync(join(dir, '.gitignore'), 'node_modules\ndist\n.nx\n.fleet\n.home\n');
  writeFileSync(
    join(dir, 'nx.json'),
    JSON.stringify(
      {
        targetDefaults: {
          build: { cache: true, dependsOn: ['^build'], inputs: ['{projectRoot}/**/*'], outputs: ['{workspaceRoot}/dist/{projectName}/build', '{workspaceRoot}/dist/{projectName}/index.js'] },
          test: { cache: true, dependsOn: ['build'], outputs: ['{workspaceRoot}/dist/{projectName}/test'] },
          lint: { cache: true, outputs: ['{workspaceRoot}/dist/{projectName}/lint'] },
        },
        tasksRunnerOptions: { default: { runner: 'nx-fleet', options: {} } },
      },
      null,
      2,
    ),
  );
  for (const [name, spec] of Object.entries(PROJECTS)) {
    const root = join(dir, 'packages', name);
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'src/index.ts'), `export const name = '${name}';\n`);
    const targets = {};
    for (const t of TARGETS) {
      targets[t] = { executor: 'nx:run-commands', options: { command: `node tools/work.js ${name} ${t} ${spec[t]}` } };
    }
    writeFileSync(join(root, 'project.json'), JSON.stringify({ name, root: `packages/${name}`, implicitDependencies: spec.deps, targets }, null, 2));
  }
  // nx 20.8.4 and nx-fleet (an npm workspace link) both come from this repository's node_modules
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const git = (...args) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=Fleet Demo', '-c', 'user.email=demo@fleet.invalid', 'commit', '-q', '-m', 'sample workspace');
}

/** Ideal wall time on m agents: max(critical path, total work / m), from the set durations. */
function idealSeconds(agents) {
  const duration = (p, t) => PROJECTS[p][t];
  const memo = new Map();
  // a task's earliest finish given unlimited machines: build after deps' builds; test after own build
  const finish = (p, t) => {
    const key = `${p}:${t}`;
    if (memo.has(key)) return memo.get(key);
    let start = 0;
    if (t === 'build') for (const d of PROJECTS[p].deps) start = Math.max(start, finish(d, 'build'));
    if (t === 'test') start = finish(p, 'build');
    const end = start + duration(p, t);
    memo.set(key, end);
    return end;
  };
  let critical = 0;
  let total = 0;
  for (const p of Object.keys(PROJECTS)) for (const t of TARGETS) {
    critical = Math.max(critical, finish(p, t));
    total += duration(p, t);
  }
  return { critical, total, ideal: Math.max(critical, total / agents), tasks: Object.keys(PROJECTS).length * TARGETS.length };
}

module.exports = { writeSampleWorkspace, idealSeconds, PROJECTS, TARGETS };
