import { randomBytes } from 'node:crypto';

/** A random id matching the protocol's OpaqueId pattern. */
export function newId(prefix = ''): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}
