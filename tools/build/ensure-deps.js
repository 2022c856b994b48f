#!/usr/bin/env node
// Runs first in `npm run demo` and `npm test`: on a fresh clone (only Node installed) it installs the
// dependencies from package-lock.json with `npm ci`; when everything is installed it does nothing.
// "Installed" means every dependency named by the root package.json and the workspace packages has a
// package.json under the root's node_modules (or that package's own node_modules), and the workspace
// packages are linked into node_modules.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** The dependencies of root that are not installed, as "name (wanted by where)". */
function missingDependencies(root) {
  const rootPkg = readJson(path.join(root, 'package.json'));
  const wanted = [{ dir: root, pkg: rootPkg }];
  for (const pattern of rootPkg.workspaces || []) {
    const base = path.join(root, pattern.replace(/\/\*$/, ''));
    if (!fs.existsSync(base)) continue;
    for (const entry of fs.readdirSync(base, { withFileTypes: true })) {
      const file = path.join(base, entry.name, 'package.json');
      if (entry.isDirectory() && fs.existsSync(file)) wanted.push({ dir: path.dirname(file), pkg: readJson(file) });
    }
  }
  const missing = [];
  for (const { dir, pkg } of wanted) {
    const where = dir === root ? 'package.json' : path.relative(root, dir);
    if (dir !== root && !installed(root, dir, pkg.name)) missing.push(`${pkg.name} (workspace ${where}, not linked)`);
    const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
    for (const name of names) {
      if (!installed(root, dir, name)) missing.push(`${name} (wanted by ${where})`);
    }
  }
  return missing;
}

function installed(root, dir, name) {
  return [dir, root].some((base) => fs.existsSync(path.join(base, 'node_modules', name, 'package.json')));
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function main() {
  const root = path.resolve(__dirname, '../..');
  const missing = missingDependencies(root);
  if (missing.length === 0) return 0;
  const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? `, and ${missing.length - 3} more` : '');
  process.stderr.write(`[fleet] dependencies are not installed (${shown}): running npm ci\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status === 0) return 0;
  const why = result.error ? result.error.message : `exit code ${result.status ?? result.signal}`;
  process.stderr.write(`[fleet] npm ci failed (${why}): install the dependencies with \`npm ci\` in ${root} and retry\n`);
  return 1;
}

module.exports = { missingDependencies };

if (require.main === module) process.exitCode = main();
