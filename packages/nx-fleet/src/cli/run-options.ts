import { RUN_LIMITS, type CreateRunRequest } from '@fleet/protocol';
import { formatDuration } from '../util/duration';

/** start-ci-run's flags for the run model, as yargs hands them over (unset: undefined). */
export interface RunModelFlags {
  retries?: number;
  'stop-agents-after'?: Array<string | number>;
  'main-timeout'?: string | number;
  'run-timeout'?: string | number;
  'task-timeout'?: string | number;
}

export type RunModelOptions = Pick<
  CreateRunRequest,
  'retries' | 'stopAgentsAfter' | 'mainTimeoutMs' | 'runTimeoutMs' | 'taskTimeoutMs'
>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration flag: a number of seconds (`5400`), or a number with a unit (`90s`, `90m`,
 * `3h`, `1d`; also `min`, `ms`), within `range` (ms). The error names the flag and the
 * allowed range.
 */
export function parseDurationFlag(flag: string, value: string | number, range: { min: number; max: number }): number {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?$/i.exec(text);
  const ms = match ? Math.round(Number(match[1]) * (UNIT_MS[(match[2] ?? 's').toLowerCase()] as number)) : NaN;
  if (!Number.isFinite(ms) || ms < range.min || ms > range.max) {
    throw new Error(
      `--${flag} must be a duration from ${formatDuration(range.min)} to ${formatDuration(range.max)} ` +
        `(seconds, or with a unit: 90s, 90m, 3h), got ${JSON.stringify(String(value))}`,
    );
  }
  return ms;
}

/** Target names from `--stop-agents-after build,test` (the flag may also repeat). */
export function parseTargetsFlag(flag: string, values: ReadonlyArray<string | number>): string[] {
  const targets = values.flatMap((v) => String(v).split(',')).map((t) => t.trim()).filter((t) => t !== '');
  const bad = targets.find((t) => !/^[^\s:,]{1,128}$/.test(t));
  if (bad !== undefined) throw new Error(`--${flag} takes target names such as build or e2e-ci (no spaces or colons), got ${JSON.stringify(bad)}`);
  if (values.length > 0 && targets.length === 0) throw new Error(`--${flag} needs at least one target name, e.g. --${flag}=build`);
  if (targets.length > 100) throw new Error(`--${flag} takes at most 100 targets`);
  return [...new Set(targets)];
}

/** The run model's part of CreateRunRequest from the flags; what is unset is left to the server's defaults. */
export function runModelOptions(flags: RunModelFlags): RunModelOptions {
  const options: { -readonly [K in keyof RunModelOptions]: RunModelOptions[K] } = {};
  if (flags.retries !== undefined) {
    const { min, max } = RUN_LIMITS.retries;
    if (!Number.isInteger(flags.retries) || flags.retries < min || flags.retries > max) {
      // yargs gives NaN for a word (`--retries abc`), which JSON would show as "null"
      const got = Number.isNaN(flags.retries) ? 'something that is not a number' : String(flags.retries);
      throw new Error(`--retries must be a whole number from ${min} to ${max}, got ${got}`);
    }
    options.retries = flags.retries;
  }
  if (flags['stop-agents-after'] !== undefined) {
    options.stopAgentsAfter = parseTargetsFlag('stop-agents-after', flags['stop-agents-after']);
  }
  if (flags['main-timeout'] !== undefined) {
    options.mainTimeoutMs = parseDurationFlag('main-timeout', flags['main-timeout'], RUN_LIMITS.mainTimeoutMs);
  }
  if (flags['run-timeout'] !== undefined) {
    options.runTimeoutMs = parseDurationFlag('run-timeout', flags['run-timeout'], RUN_LIMITS.runTimeoutMs);
  }
  if (flags['task-timeout'] !== undefined) {
    options.taskTimeoutMs = parseDurationFlag('task-timeout', flags['task-timeout'], RUN_LIMITS.taskTimeoutMs);
  }
  return options;
}
