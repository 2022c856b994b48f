/**
 * The smoke run of every benchmark (`npm run bench -- --smoke`): tiny sizes, the same code paths,
 * so the suite keeps working. Its numbers mean nothing and nothing here checks a timing: the
 * measured targets are in docs/benchmarks.md, from a full run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '../..');
const BENCHES = ['Scheduling', 'Coordinator throughput', 'Dispatch latency', 'Artifacts'];

jest.setTimeout(10 * 60_000);

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(join(REPO, 'packages/nx-fleet/dist/cli/main.js'))) {
    throw new Error('the packages are not built: run `npm run build` first (npm test does)');
  }
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, 'tools/bench/run.js'), '--smoke', '--no-write'], {
      cwd: REPO,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGTERM'), 8 * 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('npm run bench -- --smoke', () => {
  it('runs every bench end to end and prints its section and its target rows, without touching docs/benchmarks.md', async () => {
    const doc = join(REPO, 'docs/benchmarks.md');
    const before = existsSync(doc) ? statSync(doc).mtimeMs : null;
    const { code, stdout, stderr } = await runSmoke();
    expect({ code, tail: stderr.slice(-3000) }).toEqual({ code: 0, tail: expect.any(String) });
    expect(stdout).toContain('# Fleet benchmarks (smoke)');
    for (const title of BENCHES) expect(stdout).toMatch(new RegExp(`^## ${title}`, 'm'));
    const targets = stdout.slice(stdout.indexOf('## Targets'));
    for (const title of BENCHES) expect(targets).toMatch(new RegExp(`^\\| ${title}[^|]* \\| .+ \\| .+ \\| (met|\\*\\*missed\\*\\*) \\|`, 'm'));
    expect(existsSync(doc) ? statSync(doc).mtimeMs : null).toBe(before);
    if (existsSync(doc)) expect(readFileSync(doc, 'utf8')).not.toContain('(smoke)');
  });
});
