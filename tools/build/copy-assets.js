#!/usr/bin/env node
// Copies what tsc does not emit — generator schema.json files and template folders
// (files/**, dotfiles included) — from packages/nx-fleet/src to packages/nx-fleet/dist.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const pkg = path.resolve(__dirname, '../../packages/nx-fleet');
const srcRoot = path.join(pkg, 'src', 'generators');
const distRoot = path.join(pkg, 'dist', 'generators');

function copyTree(from, to) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
}

function walk(dir) {
  let copied = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, entry.name);
    const to = path.join(distRoot, path.relative(srcRoot, from));
    if (entry.isDirectory() && entry.name === 'files') {
      copyTree(from, to);
      copied++;
    } else if (entry.isDirectory() && entry.name !== '__snapshots__') {
      copied += walk(from);
    } else if (entry.isFile() && entry.name === 'schema.json') {
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
      copied++;
    }
  }
  return copied;
}

if (fs.existsSync(srcRoot)) {
  const n = walk(srcRoot);
  process.stdout.write(`copy-assets: ${n} generator asset(s) copied to ${path.relative(process.cwd(), distRoot) || distRoot}\n`);
}
