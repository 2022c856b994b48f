/** Typed errors of the e2e support code: each carries a `code` and, where known, a `cause`. */

export type E2eErrorCode =
  | 'COMMAND_FAILED'
  | 'COMMAND_TIMED_OUT'
  | 'WAIT_TIMED_OUT'
  | 'LOCK_TIMED_OUT'
  | 'TEMPLATE_FAILED';

export class E2eError extends Error {
  readonly code: E2eErrorCode;

  constructor(code: E2eErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The last `maxChars` characters of a process's output, for error messages. */
export function outputTail(output: string, maxChars = 4000): string {
  return output.length <= maxChars ? output : `…${output.slice(-maxChars)}`;
}

export class CommandFailedError extends E2eError {
  readonly exitCode: number | null;
  readonly output: string;

  constructor(description: string, exitCode: number | null, output: string) {
    super('COMMAND_FAILED', `${description} exited with ${exitCode}\n--- output tail ---\n${outputTail(output)}`);
    this.exitCode = exitCode;
    this.output = output;
  }
}

export class CommandTimedOutError extends E2eError {
  readonly output: string;

  constructor(description: string, timeoutMs: number, output: string) {
    super('COMMAND_TIMED_OUT', `${description} did not finish within ${timeoutMs} ms\n--- output tail ---\n${outputTail(output)}`);
    this.output = output;
  }
}
