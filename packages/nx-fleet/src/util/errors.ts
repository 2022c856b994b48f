/** An error meant for the user: its message says what was wrong and what to do. */
export class FleetError extends Error {
  constructor(
    message: string,
    readonly code: string = 'fleet_error',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FleetError';
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as { code?: unknown }).code;
    const causeMessage = cause instanceof Error ? cause.message.split('\n')[0] : '';
    const causeText = causeMessage && !error.message.includes(causeMessage) ? ` (${causeMessage})` : '';
    return `${error.message}${causeText}${typeof code === 'string' && !error.message.includes(code) && !(error instanceof FleetError) ? ` [${code}]` : ''}`;
  }
  return String(error);
}
