import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptionError, decryptFile, ENCRYPTION_MAGIC, EncryptionKey, encryptFile } from './encryption';

const HEX_KEY = 'a1'.repeat(32);
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('EncryptionKey.parse', () => {
  it('takes 64 hex digits or base64 (standard or url-safe) of exactly 32 bytes', () => {
    const bytes = randomBytes(32);
    const fromHex = EncryptionKey.parse(bytes.toString('hex'));
    expect(EncryptionKey.parse(bytes.toString('base64')).id).toEqual(fromHex.id);
    expect(EncryptionKey.parse(bytes.toString('base64url')).id).toEqual(fromHex.id);
    expect(EncryptionKey.parse(` ${bytes.toString('hex').toUpperCase()}\n`).id).toEqual(fromHex.id);
  });

  it('refuses anything else with a message that says what is expected and never holds the value', () => {
    const bad = ['a1'.repeat(31), 'a1'.repeat(33), 'zz'.repeat(32), randomBytes(31).toString('base64'), randomBytes(33).toString('base64'), 'correct horse battery staple'];
    for (const value of bad) {
      let message = '';
      try {
        EncryptionKey.parse(value);
      } catch (error) {
        message = (error as Error).message;
        expect((error as { code?: string }).code).toBe('bad_config');
      }
      expect(message).toMatch(/FLEET_ENCRYPTION_KEY is not a usable key: .*64 hex digits or as base64/);
      expect(message).not.toContain(value);
    }
    expect(() => EncryptionKey.parse('  ')).toThrow(/FLEET_ENCRYPTION_KEY is set but empty/);
  });

  it('never shows the key bytes when printed', () => {
    const key = EncryptionKey.parse(HEX_KEY);
    expect(JSON.stringify({ key })).not.toMatch(/a1a1|oaG/);
    expect(inspect(key)).toBe('[EncryptionKey]');
  });
});

describe('encryptFile / decryptFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-enc-'));
  const key = EncryptionKey.parse(HEX_KEY);
  const plain = join(dir, 'plain');
  // several MB, not a multiple of any block or chunk size
  writeFileSync(plain, randomBytes(5 * 1024 * 1024 + 123));
  const hash = '1234567890abcdef';

  it('round-trips a multi-MB file, with a header, a fresh IV each time and the tag at the end', async () => {
    const enc = join(dir, 'enc');
    const written = await encryptFile(key, hash, plain, enc);
    expect(written).toEqual({ sha256: sha(enc), size: statSync(enc).size });
    expect(written.size).toBe(statSync(plain).size + ENCRYPTION_MAGIC.length + 8 + 12 + 1 + hash.length + 16);
    expect(readFileSync(enc).subarray(0, 9).toString()).toBe('FLEETENC1');
    await decryptFile(key, hash, enc, join(dir, 'out'));
    expect(sha(join(dir, 'out'))).toBe(sha(plain));

    const again = await encryptFile(key, hash, plain, join(dir, 'enc2'));
    expect(again.sha256).not.toBe(written.sha256);
  });

  it('round-trips an empty file', async () => {
    writeFileSync(join(dir, 'empty'), '');
    await encryptFile(key, hash, join(dir, 'empty'), join(dir, 'empty.enc'));
    await decryptFile(key, hash, join(dir, 'empty.enc'), join(dir, 'empty.out'));
    expect(readFileSync(join(dir, 'empty.out'))).toHaveLength(0);
  });

  const refused = async (file: string, as = hash, withKey = key): Promise<string> => {
    const out = join(dir, `out-${Math.random()}`);
    try {
      await decryptFile(withKey, as, file, out);
    } catch (error) {
      expect(error).toBeInstanceOf(DecryptionError);
      expect(existsSync(out)).toBe(false); // nothing half-decrypted is left
      return (error as Error).message;
    }
    throw new Error('decryptFile accepted it');
  };

  it('refuses a blob encrypted with another key', async () => {
    const enc = join(dir, 'k');
    await encryptFile(key, hash, plain, enc);
    expect(await refused(enc, hash, EncryptionKey.parse('b2'.repeat(32)))).toMatch(/encrypted with another key than FLEET_ENCRYPTION_KEY/);
  });

  it('refuses a blob with one byte flipped, anywhere', async () => {
    const enc = join(dir, 'f');
    await encryptFile(key, hash, plain, enc);
    const bytes = readFileSync(enc);
    for (const at of [bytes.length >> 1, bytes.length - 1, 9 + 8 + 3 /* the IV */]) {
      const copy = Buffer.from(bytes);
      copy[at] ^= 0x01;
      writeFileSync(join(dir, 'flipped'), copy);
      expect(await refused(join(dir, 'flipped'))).toMatch(/altered: authentication failed/);
    }
  });

  it('refuses a blob served under another hash, also with its header edited to claim that hash', async () => {
    const enc = join(dir, 's');
    await encryptFile(key, hash, plain, enc);
    const other = 'fedcba0987654321';
    expect(await refused(enc, other)).toMatch(new RegExp(`written for another artifact \\(${hash}\\), not ${other}`));
    const edited = readFileSync(enc);
    edited.write(other, 9 + 8 + 12 + 1, 'utf8');
    writeFileSync(join(dir, 'edited'), edited);
    expect(await refused(join(dir, 'edited'), other)).toMatch(/altered: authentication failed/);
  });

  it('refuses a plaintext (unencrypted) blob', async () => {
    expect(await refused(plain)).toMatch(/not encrypted with FLEET_ENCRYPTION_KEY \(written without a key/);
    writeFileSync(join(dir, 'tiny'), 'x');
    expect(await refused(join(dir, 'tiny'))).toMatch(/not encrypted with FLEET_ENCRYPTION_KEY/);
  });

  it('refuses a blob cut short', async () => {
    const enc = join(dir, 'c');
    await encryptFile(key, hash, plain, enc);
    writeFileSync(join(dir, 'cut'), readFileSync(enc).subarray(0, 1000));
    expect(await refused(join(dir, 'cut'))).toMatch(/altered/);
  });
});
