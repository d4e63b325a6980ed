/**
 * Records in a `Map`: the MetaStore for tests and for caches that need not survive
 * the process.
 * @module
 */
import type { MetaStore, SourceRecord } from "../core/types.ts";

/**
 * Records in memory. Survives closing and reopening an `FSCache` over the same
 * instance (that is how tests simulate a restart); values are copied in and out so
 * callers never share objects with the store.
 *
 * @example
 * ```ts
 * const metaStore = new MemoryMetaStore();
 * const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore });
 * ```
 */
export class MemoryMetaStore implements MetaStore {
  readonly #records = new Map<string, SourceRecord>();
  readonly #trees = new Map<string, Uint8Array>();
  readonly #inputs = new Map<string, Uint8Array>();

  async loadAll(): Promise<SourceRecord[]> {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  async put(record: SourceRecord): Promise<void> {
    this.#records.set(record.key, { ...record });
  }

  async delete(key: string): Promise<void> {
    this.#records.delete(key);
    this.#trees.delete(key);
    this.#inputs.delete(key);
  }

  async rebase(oldKey: string, record: SourceRecord): Promise<void> {
    const tree = this.#trees.get(oldKey);
    const input = this.#inputs.get(oldKey);
    this.#records.delete(oldKey);
    this.#trees.delete(oldKey);
    this.#inputs.delete(oldKey);
    this.#records.set(record.key, { ...record });
    if (tree) this.#trees.set(record.key, tree);
    else this.#trees.delete(record.key);
    if (input) this.#inputs.set(record.key, input);
    else this.#inputs.delete(record.key);
  }

  async getHashTree(key: string): Promise<Uint8Array | undefined> {
    const tree = this.#trees.get(key);
    return tree?.slice();
  }

  async putHashTree(key: string, data: Uint8Array): Promise<void> {
    this.#trees.set(key, data.slice());
  }

  async getDigestInput(key: string): Promise<Uint8Array | undefined> {
    return this.#inputs.get(key)?.slice();
  }

  async putDigestInput(key: string, data: Uint8Array): Promise<void> {
    this.#inputs.set(key, data.slice());
  }

  async close(): Promise<void> {}
}
