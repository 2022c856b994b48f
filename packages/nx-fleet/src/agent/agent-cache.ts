import { CoordinatorCache, type Upload } from '../relay/cache-handler';

/** Where an agent keeps the result of a failed attempt: never under the task's hash. */
export function failureLogKey(leaseId: string): string {
  return `fleet-failure-${leaseId}`.slice(0, 128);
}

export interface StoredResult {
  /** The hash Nx computed for the task on this agent. */
  hash: string;
  /** The key the artifact was stored under: the hash, or the lease's failure key. */
  key: string;
  failed: boolean;
}

/**
 * The relay's behaviour on an agent: the coordinator's cache, remembering what the Nx
 * process of each lease stored. A failed result is stored under the lease's failure key,
 * so main can show it and no cache reader ever restores it as a success.
 */
export class AgentCache extends CoordinatorCache {
  private readonly stored = new Map<string, StoredResult[]>();

  protected override async putSuccess(hash: string, scope: string | null, upload: Upload): Promise<void> {
    if ((await this.store(hash, upload)) && scope) this.remember(scope, { hash, key: hash, failed: false });
  }

  protected override async putFailure(hash: string, scope: string | null, upload: Upload): Promise<void> {
    if (!scope) return;
    const key = failureLogKey(scope);
    if (await this.store(key, upload)) this.remember(scope, { hash, key, failed: true });
  }

  /** What the Nx process of lease `scope` stored, in order. */
  storedBy(scope: string): StoredResult[] {
    return this.stored.get(scope) ?? [];
  }

  forget(scope: string): void {
    this.stored.delete(scope);
  }

  private remember(scope: string, result: StoredResult): void {
    this.stored.set(scope, [...(this.stored.get(scope) ?? []), result]);
  }
}
