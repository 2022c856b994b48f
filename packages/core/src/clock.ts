/** Milliseconds since the epoch; injected so that no logic reads the wall clock itself. */
export interface Clock {
  now(): number;
}

/** Generates opaque ids (leases, executions); injected for deterministic tests. */
export interface IdGenerator {
  next(): string;
}

export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

/** A clock that moves only when told to. */
export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let current = start;
  return {
    now: (): number => current,
    advance: (ms: number): void => {
      current += ms;
    },
    set: (ms: number): void => {
      current = ms;
    },
  };
}

/** Ids `prefix-1`, `prefix-2`, … */
export function createSequentialIds(prefix = 'id'): IdGenerator {
  let n = 0;
  return { next: (): string => `${prefix}-${++n}` };
}
