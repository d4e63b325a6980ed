/**
 * Records in IndexedDB, for caches in browsers (and anywhere an `indexedDB` global
 * exists). `idb-keyval` is loaded on first use, so users of the other stores never
 * load it.
 * @module
 */
import type { UseStore } from "idb-keyval";
import { describeError, FSCacheError } from "../core/errors.ts";
import { isValidRecord } from "../core/record.ts";
import type { Logger, MetaStore, SourceRecord } from "../core/types.ts";

/** Options for {@linkcode IdbMetaStore}. */
export interface IdbMetaStoreOptions {
  /** The IndexedDB database; the store owns it (one object store, `records`). */
  dbName: string;
  /** Where skipped records are reported. Default: `console.warn`. */
  logger?: Logger;
}

// Records and trees share one object store under array keys; ranges select each kind.
const RECORD = "r";
const TREE = "t";
const INPUT = "d";
const recordKey = (key: string): [string, string] => [RECORD, key];
const treeKey = (key: string): [string, string] => [TREE, key];
const inputKey = (key: string): [string, string] => [INPUT, key];

const consoleLogger: Logger = {
  warn(message, error) {
    if (error === undefined) console.warn(`[fscache] [idb-meta-store] ${message}`);
    else console.warn(`[fscache] [idb-meta-store] ${message}:`, describeError(error));
  },
};

/**
 * A MetaStore on IndexedDB through `idb-keyval`'s `createStore`. Every change is one
 * transaction, so a rebase moves record and hash tree together or not at all.
 *
 * @example
 * ```ts
 * const metaStore = new IdbMetaStore({ dbName: "fscache" });
 * const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore });
 * ```
 */
export class IdbMetaStore implements MetaStore {
  readonly dbName: string;
  readonly #logger: Logger;
  #store: Promise<UseStore> | undefined;
  #closed = false;

  constructor(options: IdbMetaStoreOptions) {
    if (typeof options?.dbName !== "string" || options.dbName === "") {
      throw new FSCacheError("ERR_INVALID_OPTION", "IdbMetaStore needs a non-empty dbName");
    }
    this.dbName = options.dbName;
    this.#logger = options.logger ?? consoleLogger;
  }

  async loadAll(): Promise<SourceRecord[]> {
    const range = IDBKeyRange.bound([RECORD], [RECORD, []]);
    const values = await this.#run("readonly", (store) => request(store.getAll(range)));
    const out: SourceRecord[] = [];
    for (const value of values) {
      if (isValidRecord(value)) out.push(value);
      else this.#logger.warn(`skipping an unreadable record: ${safeJson(value)}`);
    }
    return out;
  }

  async put(record: SourceRecord): Promise<void> {
    const copy = { ...record };
    await this.#run("readwrite", (store) => {
      store.put(copy, recordKey(copy.key));
      return done(store);
    });
  }

  async delete(key: string): Promise<void> {
    await this.#run("readwrite", (store) => {
      store.delete(recordKey(key));
      store.delete(treeKey(key));
      store.delete(inputKey(key));
      return done(store);
    });
  }

  async rebase(oldKey: string, record: SourceRecord): Promise<void> {
    const copy = { ...record };
    if (oldKey === copy.key) return await this.put(copy);
    await this.#run("readwrite", (store) => {
      // Read and writes in one transaction: it commits whole or not at all.
      const read = store.get(treeKey(oldKey));
      const readInput = store.get(inputKey(oldKey));
      // Requests of a transaction answer in order: the tree's read has answered too.
      readInput.onsuccess = () => {
        store.delete(recordKey(oldKey));
        store.delete(treeKey(oldKey));
        store.delete(inputKey(oldKey));
        store.put(copy, recordKey(copy.key));
        if (read.result === undefined) store.delete(treeKey(copy.key));
        else store.put(read.result, treeKey(copy.key));
        if (readInput.result === undefined) store.delete(inputKey(copy.key));
        else store.put(readInput.result, inputKey(copy.key));
      };
      return done(store);
    });
  }

  async getHashTree(key: string): Promise<Uint8Array | undefined> {
    const value = await this.#run("readonly", (store) => request(store.get(treeKey(key))));
    if (value === undefined) return undefined;
    if (value instanceof Uint8Array) return new Uint8Array(value);
    this.#logger.warn(`ignoring an unreadable hash tree of key ${JSON.stringify(key)}`);
    return undefined;
  }

  async putHashTree(key: string, data: Uint8Array): Promise<void> {
    await this.#putBytes(treeKey(key), data);
  }

  async getDigestInput(key: string): Promise<Uint8Array | undefined> {
    const value = await this.#run("readonly", (store) => request(store.get(inputKey(key))));
    return value instanceof Uint8Array ? new Uint8Array(value) : undefined;
  }

  async putDigestInput(key: string, data: Uint8Array): Promise<void> {
    await this.#putBytes(inputKey(key), data);
  }

  async #putBytes(key: [string, string], data: Uint8Array): Promise<void> {
    // Structured clone copies the bytes when `put` is called.
    const bytes = new Uint8Array(data);
    await this.#run("readwrite", (store) => {
      store.put(bytes, key);
      return done(store);
    });
  }

  /** Closes the database connection; later calls fail with `ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#store) return;
    const use = await this.#store;
    await use("readonly", (store) => store.transaction.db.close());
  }

  async #run<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => Promise<T>): Promise<T> {
    if (this.#closed) throw new FSCacheError("ERR_CLOSED", `the meta store ${JSON.stringify(this.dbName)} is closed`);
    this.#store ??= openStore(this.dbName);
    const use = await this.#store;
    return await use(mode, body);
  }
}

async function openStore(dbName: string): Promise<UseStore> {
  if (typeof indexedDB === "undefined") {
    throw new FSCacheError(
      "ERR_INVALID_OPTION",
      "IdbMetaStore needs IndexedDB; this runtime has none (in tests, import fake-indexeddb/auto)",
    );
  }
  const { createStore } = await import("idb-keyval");
  return createStore(dbName, "records");
}

// biome-ignore lint/suspicious/noExplicitAny: IndexedDB hands back structured-clone values of any shape
function request<T = any>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves when the store's transaction commits, rejects when it aborts. */
function done(store: IDBObjectStore): Promise<void> {
  const tx = store.transaction;
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

function safeJson(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}
