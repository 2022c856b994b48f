import { CoordinatorCache } from '../relay/cache-handler';

/** The relay's behaviour on an agent: the coordinator's cache, remembering what each lease stored. */
export class AgentCache extends CoordinatorCache {
  private readonly stored = new Map<string, string[]>();

  override async put(hash: string, scope: string | null, upload: { file: string; sha256: string; size: number }): Promise<void> {
    const ok = await this.store(hash, upload);
    if (ok && scope) this.stored.set(scope, [...(this.stored.get(scope) ?? []), hash]);
  }

  /** Hashes the Nx process of lease `scope` stored, in order. */
  storedBy(scope: string): string[] {
    return this.stored.get(scope) ?? [];
  }

  forget(scope: string): void {
    this.stored.delete(scope);
  }
}
