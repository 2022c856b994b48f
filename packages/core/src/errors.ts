import type { ErrorCode } from '@fleet/protocol';

export interface FleetErrorOptions {
  cause?: unknown;
}

/** Base of every error Fleet raises on purpose; `code` is one of the protocol's ERROR_CODES. */
export class FleetError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: FleetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

export class BadRequestError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('bad_request', message, options);
  }
}

export class NotFoundError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('not_found', message, options);
  }
}

export class ConflictError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('conflict', message, options);
  }
}

export class NotOwnerError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('not_owner', message, options);
  }
}

export class RunClosedError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('run_closed', message, options);
  }
}

export class PayloadTooLargeError extends FleetError {
  constructor(message: string, options?: FleetErrorOptions) {
    super('payload_too_large', message, options);
  }
}

/** A plan that cannot be scheduled; `tasks` names the tasks at fault. */
export class PlanValidationError extends BadRequestError {
  readonly tasks: readonly string[];

  constructor(message: string, tasks: readonly string[]) {
    super(message);
    this.tasks = tasks;
  }
}

export function isFleetError(value: unknown): value is FleetError {
  return value instanceof FleetError;
}
