import { randomUUID } from 'node:crypto';
import type { Clock, IdGenerator } from '@fleet/core';

/** The wall clock; only main.ts wires it in. */
export const systemClock: Clock = { now: (): number => Date.now() };

/** Random opaque ids (UUIDs without dashes match the protocol's OpaqueId). */
export const randomIds: IdGenerator = { next: (): string => randomUUID().replace(/-/g, '') };
