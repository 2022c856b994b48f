import { createHash, randomBytes } from 'node:crypto';

/** Secrets are 32 random bytes; the prefix makes a leaked one easy to recognise and scan for. */
export const TOKEN_PREFIX = 'flt_';

export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function newTokenId(): string {
  return `tok_${randomBytes(9).toString('base64url')}`;
}

/** What is stored and looked up: never the secret itself. */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
