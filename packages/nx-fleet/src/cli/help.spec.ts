import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npx nx-fleet … --help` on the built CLI (npm test builds first): every command answers --help with
 * exit 0 and its options and defaults, complete-ci-run is stop-all-agents, an unknown command fails.
 */
const BIN = join(__dirname, '../../bin/nx-fleet.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('nx-fleet --help', () => {
  it('lists the commands users run', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['start-ci-run', 'start-agent', 'stop-all-agents', 'serve', 'token']) expect(top.stdout).toContain(`nx-fleet ${command}`);
    expect(top.stdout).toMatch(/\[aliases: complete-ci-run\]/);
    expect(top.stdout).not.toMatch(/internal-/); // the processes Fleet starts for itself are not advertised
  });

  it.each([
    ['start-ci-run', [/--agents .*\[default: 0\]/s, /--stop-agents-on-failure .*\[boolean\] \[default: true\]/s, /--retries/, /--require-explicit-completion/]],
    ['start-agent', [/--parallel .*\[number\] \[default: 3\]/s, /--name/, /--join-timeout/, /--idle-timeout/]],
    ['stop-all-agents', [/Complete the run: every agent exits 0/]],
    ['complete-ci-run', [/nx-fleet stop-all-agents/, /Complete the run: every agent exits 0/]],
    ['serve', [/--port .*\[default: 4646\]/s, /--host .*\[default: "127\.0\.0\.1"\]/s, /--data-dir .*\[default: "\.fleet"\]/s, /--token/]],
    ['token', [/nx-fleet token create/, /nx-fleet token list/, /nx-fleet token revoke <tokenId>/]],
  ])('%s --help shows its options and defaults, exit 0', (command, patterns) => {
    const help = cli([command, '--help']);
    expect(help.code).toBe(0);
    for (const pattern of patterns) expect(help.stdout).toMatch(pattern);
  });

  it('an unknown command exits 1 with the help and what was wrong', () => {
    const result = cli(['start-agnet']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/nx-fleet: Unknown argument: start-agnet/);
    expect(result.stderr).toContain('nx-fleet start-agent');
  });
});
