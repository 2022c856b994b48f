#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: Fleet's benchmark suite (docs/benchmarks.md). Each bench is a module in
 * this folder exporting `{ name, title, run(options) }`; `run` resolves to a report:
 *   { markdown: string, targets: Array<{ target: string, measured: string, met: boolean, note?: string }> }
 * `--smoke` runs every bench at a tiny size only to prove it still works (CI does this);
 * a full run writes docs/benchmarks.md with the command and the machine it ran on.
 *
 *   node tools/bench/run.js [--smoke] [--only scheduling,coordinator] [--no-write]
 */
const { execSync } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');

const REPO = resolve(__dirname, '../..');
/** In the order they appear in docs/benchmarks.md. */
const BENCHES = ['scheduling', 'coordinator', 'dispatch', 'artifacts'];

function parseArgs(argv) {
  const args = { smoke: false, only: null, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') args.smoke = true;
    else if (a === '--no-write') args.write = false;
    else if (a === '--only') args.only = String(argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) args.only = a.slice('--only='.length).split(',').filter(Boolean);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node tools/bench/run.js [--smoke] [--only ' + BENCHES.join(',') + '] [--no-write]\n');
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${a}; see --help\n`);
      process.exit(2);
    }
  }
  for (const name of args.only ?? []) {
    if (!BENCHES.includes(name)) {
      process.stderr.write(`unknown bench ${name}; the benches are ${BENCHES.join(', ')}\n`);
      process.exit(2);
    }
  }
  return args;
}

function machine() {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return [
    `- date: ${new Date().toISOString()}`,
    `- commit: ${commit}`,
    `- machine: ${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    `- load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `- Node ${process.version}`,
  ].join('\n');
}

function targetsTable(reports) {
  const rows = reports.flatMap(({ bench, report }) =>
    report.targets.map((t) => `| ${bench.title} | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} | ${t.note ?? ''} |`),
  );
  return ['| bench | target | measured | | note |', '|---|---|---|---|---|', ...rows].join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const names = args.only ?? BENCHES;
  const command = `npm run bench${args.smoke || args.only ? ' --' : ''}${args.smoke ? ' --smoke' : ''}${args.only ? ` --only ${args.only.join(',')}` : ''}`;
  const header = machine();
  process.stdout.write(`# Fleet benchmarks${args.smoke ? ' (smoke)' : ''}\n\n${header}\n\n`);
  const reports = [];
  for (const name of names) {
    const bench = require(join(__dirname, `${name}.js`));
    const started = Date.now();
    process.stderr.write(`[bench] ${bench.title} …\n`);
    const report = await bench.run({ smoke: args.smoke, log: (line) => process.stderr.write(`[bench ${name}] ${line}\n`) });
    process.stderr.write(`[bench] ${bench.title} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`## ${bench.title}\n\n${report.markdown.trim()}\n\n`);
    reports.push({ bench, report });
  }
  const summary = targetsTable(reports);
  process.stdout.write(`## Targets\n\n${summary}\n`);
  if (args.write && !args.smoke && !args.only) {
    const doc = [
      '# Benchmarks',
      '',
      `Produced by \`${command}\` (tools/bench/run.js); every number below comes from that one run.`,
      'Benchmarks are not timed tests: CI runs `npm run bench -- --smoke` only to keep them working.',
      '',
      header,
      '',
      '## Targets',
      '',
      summary,
      '',
      ...reports.flatMap(({ bench, report }) => [`## ${bench.title}`, '', report.markdown.trim(), '']),
    ].join('\n');
    writeFileSync(join(REPO, 'docs/benchmarks.md'), doc);
    process.stderr.write('[bench] wrote docs/benchmarks.md\n');
  }
}

main().catch((error) => {
  process.stderr.write(`[bench] failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
