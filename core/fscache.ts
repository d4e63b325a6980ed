/**
 * The cache itself (SPEC §3): sources with reference counts, per-key singleflight,
 * rebase onto an idle source with the same shared key, transfers, and when garbage is
 * collected. What is done to one source (its record, tree, size, deletion) is in
 * `source_registry.ts`.
 * @module
 */
import { BackgroundGc, checkGcInterval } from "./background_gc.ts";
import { describeError, FSCacheError, wrapTransferError } from "./errors.ts";
import { resolveGcPolicy } from "./gc_policy.ts";
import { validateIdentifier, validateKey } from "./identifier.ts";
import { type FlightContext, SingleFlight } from "./singleflight.ts";
import { SnapshotTree } from "./snapshot_tree.ts";
import { CachedSource } from "./source.ts";
import { type GcResult, SourceRegistry, type SourceState } from "./source_registry.ts";
import { inlineScanner, type TreeScanner } from "./tree_scan.ts";
import { TreeUpdater } from "./tree_updater.ts";
import type {
  Backend,
  GCPolicy,
  Logger,
  MetaStore,
  RemoteIdentifier,
  Sha256Factory,
  Source,
  SourceInfo,
  Transport,
} from "./types.ts";

export type { GcResult } from "./source_registry.ts";

/** How to open a cache. */
export interface FSCacheOptions {
  backend: Backend;
  metaStore: MetaStore;
  /** Defaults: 512 MiB, 7 days. Sizes in bytes, durations in milliseconds. */
  gcPolicy?: Partial<GCPolicy>;
  /** Milliseconds since the epoch; injectable so tests can age sources. Default `Date.now`. */
  clock?: () => number;
  /** Where background failures (GC, bad records) go. Default: `console.warn`. */
  logger?: Logger;
  /** SHA-256 for checksums. `mod.ts` supplies `node:crypto`'s; the bare core needs one. */
  sha256?: Sha256Factory;
  /** Milliseconds between periodic GC runs; 0 disables the timer. Default 5 minutes. */
  gcInterval?: number;
  /**
   * How a snapshot is scanned when its hash tree is unknown or its transport did not
   * report its changes. Default: inline; `mod.ts` uses worker threads on the real disk.
   */
  scanner?: TreeScanner;
}

const DEFAULT_GC_INTERVAL = 5 * 60 * 1000;
/**
 * A release this soon after the sync that wrote the record does not write `lastUsed`
 * again (it is kept in memory, and goes out with the record's next write): a CLI sync
 * releases its source milliseconds after saving it, and each record write is two fsyncs.
 */
const RECENTLY_SAVED_MS = 1000;

const consoleLogger: Logger = {
  warn(message, error) {
    if (error === undefined) console.warn(`[fscache] ${message}`);
    else console.warn(`[fscache] ${message}:`, describeError(error));
  },
};

/**
 * A cache of directory snapshots filled by transports.
 *
 * @example
 * ```ts
 * const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore() });
 * cache.registerTransport("mem", new MemoryTransport({ "a.txt": "hello" }));
 * await using src = await cache.syncFrom({ key: "ctx-1", sharedKey: "project", transport: "mem" });
 * await src.fs.readFile(`${src.root}/a.txt`, "utf8"); // "hello"
 * ```
 */
export class FSCache {
  readonly #backend: Backend;
  readonly #meta: MetaStore;
  readonly #policy: GCPolicy;
  readonly #clock: () => number;
  readonly #logger: Logger;
  readonly #sha256: Sha256Factory;
  readonly #scanner: TreeScanner;
  readonly #transports = new Map<string, Transport>();
  readonly #flights = new SingleFlight<SourceState>();
  readonly #registry: SourceRegistry;
  readonly #gc: BackgroundGc;
  #closed = false;
  /** Calls in flight that `close()` waits for (GC, prune, sizes). */
  readonly #operations = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /** Use {@linkcode FSCache.open}. */
  protected constructor(options: FSCacheOptions) {
    if (!options.sha256) {
      throw new FSCacheError("ERR_INVALID_OPTION", "FSCache needs a sha256 factory (the one in mod.ts supplies it)");
    }
    this.#backend = options.backend;
    this.#meta = options.metaStore;
    this.#policy = resolveGcPolicy(options.gcPolicy);
    this.#clock = options.clock ?? Date.now;
    this.#logger = options.logger ?? consoleLogger;
    this.#sha256 = options.sha256;
    this.#scanner = options.scanner ?? inlineScanner;
    this.#registry = new SourceRegistry({
      backend: this.#backend,
      meta: this.#meta,
      logger: this.#logger,
      sha256: this.#sha256,
      scanner: this.#scanner,
      clock: this.#clock,
    });
    this.#gc = new BackgroundGc(() => this.#registry.collect(this.#policy, this.#clock()), this.#logger);
  }

  /** Opens a cache: loads every readable record from the MetaStore and starts the GC timer. */
  static async open(options: FSCacheOptions): Promise<FSCache> {
    const interval = options.gcInterval ?? DEFAULT_GC_INTERVAL;
    checkGcInterval(interval);
    const cache = new this(options);
    await cache.#registry.load();
    cache.#gc.startTimer(interval);
    return cache;
  }

  /** The GC policy in force, defaults filled in. */
  get gcPolicy(): Readonly<GCPolicy> {
    return this.#policy;
  }

  /** Makes `transport` available under `name`; a name can be registered once. */
  registerTransport(name: string, transport: Transport): void {
    this.#assertOpen();
    validateKey(name, "transport name");
    if (this.#transports.has(name)) {
      throw new FSCacheError("ERR_TRANSPORT_EXISTS", `transport ${JSON.stringify(name)} is already registered`);
    }
    this.#transports.set(name, transport);
  }

  /**
   * Returns a reference to a snapshot equal to the remote tree `id` names: reused
   * without transfer when the key is cached, else rebased onto an idle snapshot with
   * the same shared key, else new; concurrent calls for one key share one transfer.
   */
  async syncFrom(id: RemoteIdentifier, options: { signal?: AbortSignal } = {}): Promise<Source> {
    this.#assertOpen(id.key);
    validateIdentifier(id);
    const transport = this.#transports.get(id.transport);
    if (!transport) {
      throw new FSCacheError("ERR_UNKNOWN_TRANSPORT", `no transport registered as ${JSON.stringify(id.transport)}`, {
        key: id.key,
      });
    }
    const state = await this.#flights.run(id.key, options.signal, (ctx) => this.#acquire(id, transport, ctx));
    return this.#handle(state, id.key);
  }

  /**
   * A reference to the source cached under `key`, with no transfer; `undefined` when
   * nothing usable is cached there (never synced, collected, being transferred, or left
   * stale by a failed sync). For tools that inspect the cache.
   */
  async get(key: string): Promise<Source | undefined> {
    this.#assertOpen(key);
    validateKey(key);
    const state = this.#registry.sources.get(key);
    if (!state || state.record.stale || state.transferring) return undefined;
    state.refs++;
    return this.#handle(state, key);
  }

  #handle(state: SourceState, key: string): Source {
    return new CachedSource({
      key,
      root: state.dir,
      fs: this.#backend.fs,
      hash: (path) => this.#registry.hash(state, path),
      release: () => this.#release(state),
    });
  }

  /** Bytes held by sources nobody references (what GC and prune can reclaim). */
  diskUsage(): Promise<number> {
    return this.#track(() => this.#diskUsage());
  }

  async #diskUsage(): Promise<number> {
    let total = 0;
    for (const state of this.#registry.idle()) {
      const size = await this.#registry.sizeOf(state);
      if (state.refs === 0 && !state.deleting) total += size ?? 0;
    }
    return total;
  }

  /** Every source with its size, last use and reference count, for tools. */
  sources(): Promise<SourceInfo[]> {
    return this.#track(() => this.#sources());
  }

  async #sources(): Promise<SourceInfo[]> {
    const out: SourceInfo[] = [];
    for (const state of [...this.#registry.sources.values()]) {
      const size = state.transferring ? state.record.size : await this.#registry.sizeOf(state);
      const { key, sharedKey, backendId, lastUsed, stale } = state.record;
      out.push({ key, sharedKey, backendId, path: state.dir, size: size ?? 0, lastUsed, refs: state.refs, stale });
    }
    return out;
  }

  /**
   * Deletes every idle source; returns bytes freed. On abort, or when the cache is
   * closed meanwhile, it stops after the source it is deleting and returns what it freed.
   */
  prune(options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.#track(() => this.#prune(options.signal));
  }

  async #prune(signal: AbortSignal | undefined): Promise<number> {
    let freed = 0;
    for (const state of this.#registry.idle()) {
      if (signal?.aborted || this.#closed) break;
      if (state.refs > 0 || state.deleting) continue; // taken while earlier ones were pruned
      const size = await this.#registry.sizeOf(state, signal);
      if (size === undefined) break;
      if (await this.#registry.delete(state)) freed += size;
    }
    return freed;
  }

  /** Runs garbage collection now (by age, then least recently used down to `maxSize`). */
  gc(): Promise<GcResult> {
    return this.#track(() => this.#registry.collect(this.#policy, this.#clock()));
  }

  /**
   * Waits until background work started so far has finished: GC runs triggered by
   * releases, and record writes (`lastUsed`, sizes). For tests and orderly shutdowns.
   */
  async flush(): Promise<void> {
    await this.#gc.idle();
    await this.#registry.metaQueue.drain();
  }

  /**
   * Stops the GC timer, waits for syncs, GC and the other calls in flight (a prune stops
   * after the source it is deleting), and closes the MetaStore.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#gc.stop();
    await Promise.all(this.#flights.pending());
    await Promise.all([...this.#operations].map((p) => p.catch(() => undefined)));
    await this.flush();
    await this.#meta.close();
  }

  /** Runs a public call unless the cache is closed, keeping it in {@linkcode #operations} until it ends. */
  #track<T>(run: () => Promise<T>): Promise<T> {
    try {
      this.#assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const pending = run();
    this.#operations.add(pending);
    const done = () => this.#operations.delete(pending);
    pending.then(done, done);
    return pending;
  }

  #assertOpen(key?: string): void {
    if (this.#closed) throw new FSCacheError("ERR_CLOSED", "the cache is closed", key === undefined ? {} : { key });
  }

  /** The flight body for one key: find, rebase or create, then transfer. */
  async #acquire(id: RemoteIdentifier, transport: Transport, ctx: FlightContext): Promise<SourceState> {
    const existing = this.#registry.sources.get(id.key);
    if (existing && !existing.record.stale) {
      existing.refs += ctx.claim();
      return existing;
    }
    // Once per transfer, as early as the size of what it updates is known.
    let prepared = false;
    const prepare = (entries?: number) => {
      if (prepared) return;
      prepared = true;
      try {
        transport.prepare?.({ id, fs: this.#backend.fs, ...(entries === undefined ? {} : { entries }) });
      } catch (err) {
        // Only a head start: `copy` still runs, and reports any real failure with the key.
        this.#logger.warn(
          `transport ${JSON.stringify(id.transport)} failed to prepare key ${JSON.stringify(id.key)}`,
          err,
        );
      }
    };
    let state: SourceState;
    let base: SnapshotTree | undefined;
    let fresh = false;
    if (existing) {
      // A failed sync left this snapshot half-updated: transfer again (and rescan) to repair it.
      prepare();
      existing.refs++;
      state = existing;
    } else {
      const rebased = await this.#registry.rebase(id, prepare);
      prepare();
      if (rebased) ({ state, base } = rebased);
      else {
        state = await this.#registry.create(id);
        base = SnapshotTree.empty(this.#sha256);
        fresh = true;
      }
    }
    // `state.refs` includes one hold for the transfer itself, so GC cannot take it meanwhile.
    await this.#transfer(state, id, transport, ctx.signal, base, fresh);
    state.refs += ctx.claim() - 1;
    if (state.refs === 0) this.#becameIdle(state);
    return state;
  }

  /**
   * Runs the transport, then records the snapshot's hash tree: the recorded tree plus
   * the transport's changes when it reported them all and the tree was known (a fresh
   * snapshot starts empty), else a full scan of the snapshot.
   */
  async #transfer(
    state: SourceState,
    id: RemoteIdentifier,
    transport: Transport,
    signal: AbortSignal,
    base: SnapshotTree | undefined,
    fresh: boolean,
  ): Promise<void> {
    const baseStored = base !== undefined && base === state.tree && state.treeStored === true;
    state.transferring = true;
    state.generation++;
    state.tree = undefined;
    state.treeStored = false;
    // A fresh snapshot's tree is read by no one and dropped if the copy fails: it takes
    // the changes as they come.
    const updater = new TreeUpdater(this.#sha256, fresh ? base : undefined);
    const fs = this.#backend.fs;
    try {
      const previous = fresh ? undefined : base?.recorded();
      await transport.copy({ id, dest: state.dir, fs, updater, signal, ...(previous ? { previous } : {}) });
      if (signal.aborted) throw signal.reason;
      let tree: SnapshotTree;
      let size: number | null = null;
      let unchanged = false;
      if (updater.supported && base) {
        for (const c of updater.changes) base.apply(c.kind, c.path, c.checksum, c.stat);
        tree = base;
        unchanged = baseStored && updater.changes.length === 0;
        // Known from the reported stats, so releasing the source need not walk the snapshot
        // to size it. A scanned tree cannot tell hard links apart, so its size stays unknown.
        // Nothing changed: the size recorded for this very directory still holds.
        size = unchanged && state.record.size !== null ? state.record.size : (tree.contentSize() ?? null);
      } else {
        tree = SnapshotTree.of(await this.#scanner.scan(fs, state.dir, this.#sha256, signal), this.#sha256);
      }
      state.record = { ...state.record, size, lastUsed: this.#clock(), stale: false };
      const record = { ...state.record };
      // A sync that changed nothing leaves the stored tree as it was (rebase moved it along).
      const bytes = unchanged ? undefined : tree.serialize();
      const input = bytes && this.#meta.putDigestInput ? tree.storedDigestInput() : undefined;
      await this.#registry.metaQueue.run([record.key], async () => {
        if (bytes)
          await Promise.all([
            this.#meta.putHashTree(record.key, bytes),
            input && this.#putDigestInput(record.key, input),
          ]);
        await this.#meta.put(record);
      });
      state.tree = tree;
      state.treeStored = true;
      state.savedAt = record.lastUsed;
    } catch (err) {
      state.record = { ...state.record, size: null, stale: true };
      const record = { ...state.record };
      this.#registry.metaQueue
        .run([record.key], () => this.#meta.put(record))
        .catch((e) => this.#logger.warn(`could not mark key ${JSON.stringify(record.key)} stale`, e));
      state.refs--;
      if (state.refs === 0) this.#becameIdle(state);
      throw wrapTransferError(err, id, signal, state.dir);
    } finally {
      state.transferring = false;
      state.generation++;
    }
  }

  /** Stores a digest input; a failure only loses what it would save, so it is only reported. */
  async #putDigestInput(key: string, data: Uint8Array): Promise<void> {
    try {
      await this.#meta.putDigestInput?.(key, data);
    } catch (err) {
      this.#logger.warn(`could not store the digest input of key ${JSON.stringify(key)}`, err);
    }
  }

  async #release(state: SourceState): Promise<void> {
    state.refs--;
    if (state.refs === 0) this.#becameIdle(state);
  }

  /** Last reference gone: refresh `lastUsed` (so GC is really LRU) and collect in the background. */
  #becameIdle(state: SourceState): void {
    if (this.#closed) return;
    // An idle source's tree stays in memory, its digest input (65 bytes an entry) in the
    // store only, where one keeps it: the next sync takes it back (`SourceRegistry.rebase`).
    if (this.#meta.getDigestInput && this.#meta.putDigestInput) state.tree?.forgetDigestInput();
    const now = this.#clock();
    state.record = { ...state.record, lastUsed: now };
    const saved = state.savedAt;
    state.savedAt = undefined;
    if (saved !== undefined && now - saved >= 0 && now - saved < RECENTLY_SAVED_MS) {
      this.#gc.schedule();
      return;
    }
    const record = { ...state.record };
    this.#registry.metaQueue
      .run([record.key], () => (state.deleting ? Promise.resolve() : this.#meta.put(record)))
      .catch((err) => this.#logger.warn(`could not record last use of key ${JSON.stringify(record.key)}`, err));
    this.#gc.schedule();
  }
}
