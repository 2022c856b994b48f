/**
 * Jest matchers for e2e tests. `expect(result).toExitWith(0)` fails with the tail of the process's
 * output, so a CI failure says why a command exited as it did (a bare `expect(code).toBe(0)` shows
 * only "Expected: 0, Received: 1").
 */
import type { MatcherFunction } from 'expect';

interface ExitedLike {
  readonly code: number | null;
  readonly signal?: NodeJS.Signals | null;
  readonly output?: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

const TAIL_CHARS = 6000;

function tail(result: ExitedLike): string {
  const text = result.output ?? `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return text.length > TAIL_CHARS ? `…${text.slice(-TAIL_CHARS)}` : text;
}

const toExitWith: MatcherFunction<[expected: number]> = function (actual, expected) {
  const result = actual as ExitedLike;
  if (typeof result !== 'object' || result === null || !('code' in result)) {
    throw new TypeError('toExitWith expects a process result with a `code`');
  }
  const pass = result.code === expected;
  return {
    pass,
    message: () =>
      `expected exit code ${pass ? 'not ' : ''}${expected}, got ${result.code}` +
      (result.signal ? ` (signal ${result.signal})` : '') +
      `\n--- output (tail) ---\n${tail(result)}`,
  };
};

expect.extend({ toExitWith });

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /** The process result's exit code is `expected`; on failure, shows the tail of its output. */
      toExitWith(expected: number): R;
    }
  }
}
