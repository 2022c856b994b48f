import { main } from '../main';

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Test support. Runs `nx-fleet <argv>` in this process with `env` as process.env (restored after) and
 * returns what it printed and its exit code. Not for --help (yargs exits the process).
 */
export async function runCli(argv: string[], env: Record<string, string | undefined>, cwd?: string): Promise<CliResult> {
  const saved = { ...process.env };
  const savedCwd = process.cwd();
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array): boolean => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  for (const key of Object.keys(process.env)) if (key.startsWith('FLEET_')) delete process.env[key];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  process.exitCode = 0;
  try {
    if (cwd) process.chdir(cwd);
    await main(argv);
    return { stdout: out.join(''), stderr: err.join(''), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = 0;
    process.chdir(savedCwd);
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}
