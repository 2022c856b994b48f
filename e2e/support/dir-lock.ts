import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2eError } from './errors';

export interface LockOptions {
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

function ownerAlive(lockDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lockDir, 'owner'), 'utf8').trim());
  } catch (error) {
    // ENOENT: the owner file is not written yet, the lock is being taken right now.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding a mkdir-based lock at `lockDir` (atomic across processes). Waits at most `timeoutMs`,
 * polling every `pollMs`; a lock whose owner process is dead is broken.
 */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;
  const pollMs = options.pollMs ?? 500;
  const maxAttempts = Math.ceil(timeoutMs / pollMs) + 1;
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!ownerAlive(lockDir)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (attempt >= maxAttempts) throw new E2eError('LOCK_TIMED_OUT', `lock ${lockDir} still held after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  writeFileSync(join(lockDir, 'owner'), String(process.pid));
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
