/**
 * Orders asynchronous operations per key: an operation on a set of keys starts
 * after every earlier operation on any of those keys has settled. The cache runs
 * its MetaStore writes through one, so a background `lastUsed` refresh can never
 * land after the delete (or rebase) that followed it.
 * @module
 */

/**
 * A per-key FIFO of async operations.
 *
 * @example
 * ```ts
 * const queue = new KeyedQueue();
 * queue.run(["a"], () => store.put(a));
 * await queue.run(["a", "b"], () => store.rebase("a", b)); // after the put
 * ```
 */
export class KeyedQueue {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(keys: readonly string[], operation: () => Promise<T>): Promise<T> {
    const before = keys.map((k) => this.#tails.get(k)).filter((p): p is Promise<unknown> => p !== undefined);
    const result = Promise.all(before).then(operation);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    for (const key of keys) this.#tails.set(key, tail);
    tail.then(() => {
      for (const key of keys) if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves when every operation queued so far has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
