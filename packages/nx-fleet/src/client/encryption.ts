import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { FleetError } from '../util/errors';

/**
 * End-to-end encryption of artifacts with a key the coordinator never sees
 * (`FLEET_ENCRYPTION_KEY`): AES-256-GCM, streamed (artifacts can be GBs).
 *
 * Blob layout (version 1):
 *   magic "FLEETENC1" (9) | key id (8) | IV (12) | key length (1) | artifact key (n) | ciphertext | GCM tag (16)
 * Everything before the ciphertext is the header; the header and the artifact key are the
 * additional authenticated data, so a blob moved to another key (or a header edited to
 * claim one) fails authentication. The key id (HKDF of the key) only tells "another key"
 * apart from "tampered" in messages; it reveals nothing about the key.
 */
export const ENCRYPTION_MAGIC = Buffer.from('FLEETENC1', 'ascii');
const KEY_ID_LENGTH = 8;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEY_LENGTH = 32;

export class EncryptionKey {
  /** An 8-byte fingerprint written into each blob; derived one way, never the key. */
  readonly id: Buffer;

  private constructor(private readonly key: Buffer) {
    this.id = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'fleet artifact key id v1', KEY_ID_LENGTH));
  }

  /** `raw`: 64 hex digits, or base64 of exactly 32 bytes. The message never holds the value. */
  static parse(raw: string, origin = 'FLEET_ENCRYPTION_KEY'): EncryptionKey {
    const value = raw.trim();
    const expected = `${origin} must be 32 random bytes written as 64 hex digits or as base64 (e.g. \`openssl rand -hex 32\`)`;
    if (value === '') {
      throw new FleetError(`${origin} is set but empty (is the CI secret missing?): ${expected}, or unset it to store artifacts unencrypted`, 'bad_config');
    }
    if (/^[0-9a-fA-F]{64}$/.test(value)) return new EncryptionKey(Buffer.from(value, 'hex'));
    if (/^[A-Za-z0-9+/]{43}=$|^[A-Za-z0-9_-]{43}=?$/.test(value)) {
      const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      if (bytes.length === KEY_LENGTH) return new EncryptionKey(bytes);
    }
    throw new FleetError(`${origin} is not a usable key: ${expected}`, 'bad_config');
  }

  /** Never the key itself, whatever prints this object. */
  toJSON(): string {
    return '[EncryptionKey]';
  }

  /** Node's util.inspect (console, reporters, error dumps) shows no key bytes either. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[EncryptionKey]';
  }

  /** @internal */
  cipher(iv: Buffer): CipherGCM {
    return createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_LENGTH });
  }

  /** @internal */
  decipher(iv: Buffer): DecipherGCM {
    return createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_LENGTH });
  }
}

/** Why a blob cannot be decrypted; the client turns it into an IntegrityError (a reported miss). */
export class DecryptionError extends FleetError {
  constructor(message: string) {
    super(message, 'decryption');
  }
}

function header(key: EncryptionKey, artifactKey: string, iv: Buffer): Buffer {
  const name = Buffer.from(artifactKey, 'utf8');
  if (name.length > 255) throw new FleetError(`artifact key too long to encrypt (${name.length} bytes)`, 'bad_request');
  return Buffer.concat([ENCRYPTION_MAGIC, key.id, iv, Buffer.from([name.length]), name]);
}

function aad(head: Buffer, artifactKey: string): Buffer {
  return Buffer.concat([head, Buffer.from(artifactKey, 'utf8')]);
}

/**
 * Encrypts `source` into `target` for the artifact `artifactKey`, streaming. Returns the
 * sha256 and size of what was written (what the coordinator will see and check).
 */
export async function encryptFile(key: EncryptionKey, artifactKey: string, source: string, target: string): Promise<{ sha256: string; size: number }> {
  const iv = randomBytes(IV_LENGTH);
  const head = header(key, artifactKey, iv);
  const cipher = key.cipher(iv);
  cipher.setAAD(aad(head, artifactKey));
  const digest = createHash('sha256');
  let size = 0;
  const out = (chunk: Buffer): Buffer => {
    digest.update(chunk);
    size += chunk.length;
    return chunk;
  };
  try {
    await pipeline(
      createReadStream(source),
      async function* (plain: AsyncIterable<Buffer>) {
        yield out(head);
        for await (const chunk of plain) {
          const encrypted = cipher.update(chunk);
          if (encrypted.length > 0) yield out(encrypted);
        }
        const last = cipher.final();
        if (last.length > 0) yield out(last);
        yield out(cipher.getAuthTag());
      },
      createWriteStream(target),
    );
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
  return { sha256: digest.digest('hex'), size };
}

/**
 * Decrypts the blob `source` of artifact `artifactKey` into `target`, streaming. Throws a
 * DecryptionError saying why when it is not ours to decrypt: not encrypted, encrypted with
 * another key, written for another artifact, or altered. `target` is removed then.
 */
export async function decryptFile(key: EncryptionKey, artifactKey: string, source: string, target: string): Promise<{ sha256: string; size: number }> {
  const { size } = await stat(source);
  const fixed = ENCRYPTION_MAGIC.length + KEY_ID_LENGTH + IV_LENGTH + 1;
  const handle = await open(source, 'r');
  let head: Buffer;
  let tag: Buffer;
  try {
    const start = Buffer.alloc(Math.min(size, fixed));
    await handle.read(start, 0, start.length, 0);
    if (size < fixed + TAG_LENGTH || !start.subarray(0, ENCRYPTION_MAGIC.length).equals(ENCRYPTION_MAGIC)) {
      throw new DecryptionError('it is not encrypted with FLEET_ENCRYPTION_KEY (written without a key, or by an incompatible version)');
    }
    if (!timingSafeEqual(start.subarray(ENCRYPTION_MAGIC.length, ENCRYPTION_MAGIC.length + KEY_ID_LENGTH), key.id)) {
      throw new DecryptionError('it is encrypted with another key than FLEET_ENCRYPTION_KEY');
    }
    const nameLength = start[fixed - 1];
    if (size < fixed + nameLength + TAG_LENGTH) throw new DecryptionError('it was altered (too short for its header)');
    const name = Buffer.alloc(nameLength);
    await handle.read(name, 0, nameLength, fixed);
    if (!name.equals(Buffer.from(artifactKey, 'utf8'))) {
      // the header is authenticated: if it was edited, decryption below would fail anyway
      throw new DecryptionError(`it was written for another artifact (${printable(name)}), not ${artifactKey}`);
    }
    head = Buffer.concat([start, name]);
    tag = Buffer.alloc(TAG_LENGTH);
    await handle.read(tag, 0, TAG_LENGTH, size - TAG_LENGTH);
  } finally {
    await handle.close();
  }
  const iv = head.subarray(ENCRYPTION_MAGIC.length + KEY_ID_LENGTH, ENCRYPTION_MAGIC.length + KEY_ID_LENGTH + IV_LENGTH);
  const decipher = key.decipher(iv);
  decipher.setAAD(aad(head, artifactKey));
  decipher.setAuthTag(tag);
  const end = size - TAG_LENGTH - 1;
  try {
    // an empty plaintext has no bytes between header and tag: read nothing, still check the tag
    const body = end >= head.length ? createReadStream(source, { start: head.length, end }) : emptySource();
    const digest = createHash('sha256');
    let plainSize = 0;
    await pipeline(
      body,
      decipher,
      async function* (plain: AsyncIterable<Buffer>) {
        for await (const chunk of plain) {
          digest.update(chunk);
          plainSize += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(target),
    );
    return { sha256: digest.digest('hex'), size: plainSize };
  } catch (error) {
    await rm(target, { force: true });
    // (not `instanceof Error`: crypto's errors may come from another realm, e.g. under jest)
    if (/unable to authenticate/i.test(String((error as { message?: unknown })?.message))) {
      throw new DecryptionError('it was altered: authentication failed (the blob was changed, or moved from another artifact)');
    }
    throw error;
  }
}

async function* emptySource(): AsyncGenerator<Buffer> {
  // nothing
}

function printable(name: Buffer): string {
  return name.toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 128);
}
