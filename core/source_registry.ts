/**
 * The sources a cache knows, and what it does to one source at a time: load the records,
 * size a snapshot, load or rebuild its hash tree, answer `hash`, delete it, collect
 * garbage. The cache (`fscache.ts`) decides when; this does it.
 * @module
 */
import { FSCacheError, wrapStoreError } from "./errors.ts";
import { type GcCandidate, selectGcVictims } from "./gc_policy.ts";
import { KeyedQueue } from "./keyed_queue.ts";
import { cleanRelativePath, joinPath } from "./path.ts";
import { isValidRecord } from "./record.ts";
import { snapshotSize } from "./snapshot_size.ts";
import { SnapshotTree } from "./snapshot_tree.ts";
import { storedEntryCount } from "./tree_format.ts";
import type { TreeScanner } from "./tree_scan.ts";
import type { Backend, GCPolicy, Logger, MetaStore, RemoteIdentifier, Sha256Factory, SourceRecord } from "./types.ts";

/** What `gc()` did. */
export interface GcResult {
  /** Keys of the deleted sources. */
  removed: string[];
  /** Bytes freed. */
  freed: number;
}

/** One snapshot the cache knows: its record, directory, references and tree. */
export interface SourceState {
  record: SourceRecord;
  dir: string;
  refs: number;
  /** Bumped when a transfer starts or ends, so a size walked meanwhile is discarded. */
  generation: number;
  transferring: boolean;
  deleting: boolean;
  /** The hash tree once loaded or built; absent until needed, and during a transfer. */
  tree?: SnapshotTree;
  /** `tree` is known to be what the MetaStore holds for this source (no need to write it again). */
  treeStored?: boolean;
  /** When (by the cache's clock) a successful transfer last wrote the record. */
  savedAt?: number;
}

const GC_DELETE_CONCURRENCY = 8;

/** What a registry works with: the cache's own adapters. */
export interface RegistryDeps {
  backend: Backend;
  meta: MetaStore;
  logger: Logger;
  sha256: Sha256Factory;
  scanner: TreeScanner;
  clock: () => number;
}

/**
 * The sources of one cache by key, with record writes queued per key.
 *
 * @example
 * ```ts
 * const registry = new SourceRegistry({ backend, meta, logger, sha256, scanner });
 * await registry.load();
 * await registry.collect(policy, Date.now());
 * ```
 */
export class SourceRegistry {
  readonly sources: Map<string, SourceState> = new Map();
  /** Record and tree writes, one at a time per key. */
  readonly metaQueue: KeyedQueue = new KeyedQueue();
  readonly #backend: Backend;
  readonly #meta: MetaStore;
  readonly #logger: Logger;
  readonly #sha256: Sha256Factory;
  readonly #scanner: TreeScanner;
  readonly #clock: () => number;

  constructor(deps: RegistryDeps) {
    this.#backend = deps.backend;
    this.#meta = deps.meta;
    this.#logger = deps.logger;
    this.#sha256 = deps.sha256;
    this.#scanner = deps.scanner;
    this.#clock = deps.clock;
  }

  /** Loads every readable record whose directory exists; removes directories no record owns. */
  async load(): Promise<void> {
    const present = new Set(await this.#backend.list());
    const claimed = new Set<string>();
    for (const record of await this.#meta.loadAll()) {
      if (!isValidRecord(record)) {
        this.#logger.warn(`skipping an unreadable record: ${JSON.stringify(record)?.slice(0, 200)}`);
        continue;
      }
      if (!present.has(record.backendId) || claimed.has(record.backendId)) {
        this.#logger.warn(`dropping record of key ${JSON.stringify(record.key)}: its snapshot directory is gone`);
        await this.#meta.delete(record.key);
        continue;
      }
      claimed.add(record.backendId);
      const dir = await this.#backend.get(record.backendId);
      this.sources.set(record.key, {
        record: { ...record },
        dir,
        refs: 0,
        generation: 0,
        transferring: false,
        deleting: false,
      });
    }
    for (const id of present) {
      if (claimed.has(id)) continue;
      // Only what `randomId` names is ours to remove; anything else was put there by hand.
      if (!SNAPSHOT_ID.test(id)) {
        this.#logger.warn(`leaving ${id} alone: no record claims it and fscache did not name it`);
        continue;
      }
      this.#logger.warn(`removing orphaned snapshot directory ${id}`);
      // Never fatal: a directory that cannot be removed now is tried again at the next open.
      await this.#backend.remove(id).catch((err) => this.#logger.warn(`could not remove ${id}`, err));
    }
  }

  /** Deletes the idle sources `policy` selects at `now`: by age, then least recently used down to the size limit. */
  async collect(policy: GCPolicy, now: number): Promise<GcResult> {
    const candidates: GcCandidate[] = [];
    for (const state of this.idle()) {
      const size = await this.sizeOf(state);
      // Sizing yields: a source taken meanwhile is no longer a candidate.
      if (size === undefined || state.refs > 0 || state.deleting) continue;
      candidates.push({ key: state.record.key, lastUsed: state.record.lastUsed, size });
    }
    const bySize = new Map(candidates.map((c) => [c.key, c.size]));
    const result: GcResult = { removed: [], freed: 0 };
    const victims = selectGcVictims(candidates, policy, now);
    // A few deletions at a time: a durable store's directory fsyncs are then shared
    // between them instead of paid one after another. The first failure stops the rest.
    const deleted = victims.map(() => false);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (!failure && next < victims.length) {
        const i = next++;
        const state = this.sources.get(victims[i]!);
        try {
          if (state) deleted[i] = await this.delete(state);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: GC_DELETE_CONCURRENCY }, worker));
    if (failure) throw failure.error;
    victims.forEach((key, i) => {
      if (!deleted[i]) return;
      result.removed.push(key);
      result.freed += bySize.get(key) ?? 0;
    });
    return result;
  }

  /** Deletes an idle source: record first, then directory. False if it was taken meanwhile. */
  async delete(state: SourceState): Promise<boolean> {
    if (state.refs > 0 || state.deleting) return false;
    const key = state.record.key;
    state.deleting = true;
    this.sources.delete(key);
    try {
      await this.metaQueue.run([key], () => this.#meta.delete(key));
    } catch (err) {
      state.deleting = false;
      this.sources.set(key, state);
      throw wrapStoreError(err, key, "delete");
    }
    await this.#backend
      .remove(state.record.backendId)
      .catch((err) => this.#logger.warn(`could not remove snapshot directory of key ${JSON.stringify(key)}`, err));
    return true;
  }

  /** Sources nobody references and nobody is deleting. */
  idle(): SourceState[] {
    return [...this.sources.values()].filter((s) => s.refs === 0 && !s.deleting);
  }

  /** The cached size, walking the snapshot when unknown; `undefined` if aborted. */
  async sizeOf(state: SourceState, signal?: AbortSignal): Promise<number | undefined> {
    if (state.record.size !== null) return state.record.size;
    const generation = state.generation;
    const size = await snapshotSize(this.#backend.fs, state.dir, signal);
    // A transfer running now (its source was taken over after this walk was asked for) owns
    // the record: writing ours would persist its in-memory "not stale" before it succeeds.
    if (size === undefined || state.generation !== generation || state.deleting || state.transferring) return size;
    state.record = { ...state.record, size };
    const record = { ...state.record };
    this.metaQueue
      .run([record.key], () => (state.deleting ? Promise.resolve() : this.#meta.put(record)))
      .catch((err) => this.#logger.warn(`could not record size of key ${JSON.stringify(record.key)}`, err));
    return size;
  }

  /** The tree recorded after the last successful sync, loaded from the MetaStore if need be. */
  storedTree(state: SourceState): Promise<SnapshotTree | undefined> {
    return state.record.stale ? Promise.resolve(undefined) : this.loadTree(state);
  }

  /**
   * The tree cached in memory or stored under the source's key, whatever the record says.
   * `onSize` is told its entry count before a stored tree is decoded (decoding 100k
   * entries takes a tenth of a second), or `undefined` when there is none. `stored`: the
   * reads of it already made (see {@linkcode rebase}).
   */
  async loadTree(
    state: SourceState,
    onSize?: (entries: number | undefined) => void,
    stored?: StoredReads,
  ): Promise<SnapshotTree | undefined> {
    if (state.tree) {
      onSize?.(state.tree.size);
      return state.tree;
    }
    const generation = state.generation;
    const { key, data, input } = stored ?? this.#readStored(state.record.key);
    let tree: SnapshotTree;
    try {
      const bytes = await data;
      onSize?.(bytes ? storedEntryCount(bytes) : undefined);
      if (!bytes) return undefined;
      tree = SnapshotTree.decode(bytes, this.#sha256);
      // Offered when it comes: the tree's first changes are folded in after a
      // transfer, long after this read has answered.
      void input?.then((digestInput) => digestInput && tree.adoptDigestInput(digestInput));
    } catch (err) {
      this.#logger.warn(
        `ignoring the stored hash tree of key ${JSON.stringify(key)}; the snapshot will be rescanned`,
        err,
      );
      return undefined;
    }
    if (state.generation === generation && !state.transferring && state.tree === undefined) {
      state.tree = tree;
      state.treeStored = true;
    }
    return tree;
  }

  /** Starts reading what is stored under `key` for its tree; the reads never reject unobserved. */
  #readStored(key: string): StoredReads {
    const data = this.#meta.getHashTree(key);
    data.catch(() => undefined); // observed by `loadTree`, which may come after a failed rebase
    return { key, data, input: this.#readDigestInput(key) };
  }

  /** Starts reading the digest input stored under `key`, if the store keeps one; never rejects. */
  #readDigestInput(key: string): Promise<Uint8Array | undefined> | undefined {
    return this.#meta.getDigestInput?.(key).catch((err) => {
      this.#logger.warn(`ignoring the stored digest input of key ${JSON.stringify(key)}`, err);
      return undefined;
    });
  }

  /** The tree of a synced snapshot: recorded, or scanned now (and saved) when none was. */
  async treeFor(state: SourceState): Promise<SnapshotTree> {
    const stored = await this.storedTree(state);
    if (stored) return stored;
    const generation = state.generation;
    const tree = SnapshotTree.of(await this.#scanner.scan(this.#backend.fs, state.dir, this.#sha256), this.#sha256);
    if (state.generation !== generation || state.transferring || state.deleting) return tree;
    state.tree ??= tree;
    const key = state.record.key;
    const bytes = tree.serialize();
    this.metaQueue
      .run([key], () => (state.deleting ? Promise.resolve() : this.#meta.putHashTree(key, bytes)))
      .catch((err) => this.#logger.warn(`could not record the hash tree of key ${JSON.stringify(key)}`, err));
    return tree;
  }

  /** The `file:`/`dir:` checksum of `path` in the source (`Source.hash`). */
  async hash(state: SourceState, path: string): Promise<string> {
    let clean: string;
    try {
      clean = cleanRelativePath(path);
    } catch (err) {
      throw err instanceof FSCacheError
        ? new FSCacheError(err.code, err.message, { key: state.record.key, path })
        : err;
    }
    const tree = await this.treeFor(state);
    let kind = tree.kindOf(clean);
    if (kind === undefined) {
      throw new FSCacheError("ENOENT", `no such file or directory in the snapshot: ${JSON.stringify(path)}`, {
        key: state.record.key,
        path,
      });
    }
    if (kind === "unknown") {
      // Recorded without a stat and nothing below it: an empty directory or a file.
      kind = (await this.#backend.fs.lstat(joinPath(state.dir, clean))).isDirectory() ? "dir" : "file";
    }
    return tree.hash(clean, kind) as string;
  }

  /**
   * Takes over the most recently used idle source with the shared key, with its recorded
   * tree; `onSize` is told the tree's entry count before it is decoded (see `loadTree`).
   */
  async rebase(
    id: RemoteIdentifier,
    onSize?: (entries: number | undefined) => void,
  ): Promise<{ state: SourceState; base: SnapshotTree | undefined } | undefined> {
    if (!id.sharedKey) return undefined;
    let best: SourceState | undefined;
    for (const state of this.idle()) {
      if (state.record.sharedKey !== id.sharedKey) continue;
      if (!best || state.record.lastUsed > best.record.lastUsed) best = state;
    }
    if (!best) return undefined;
    const state = best;
    const oldKey = state.record.key;
    const previous = state.record;
    state.refs++;
    // A size walk that started before this takeover must not write its record back:
    // that would persist the new key as not stale before its transfer has even begun.
    state.generation++;
    this.sources.delete(oldKey);
    // Stale in memory as on disk until the transfer succeeds: no write made meanwhile (a
    // size, a last use) may record the new key as complete over a half-updated directory.
    state.record = { ...previous, key: id.key, stale: true };
    this.sources.set(id.key, state);
    // Read under the old key while the rebase is written (the store orders a tree's reads
    // only after its writes, not a record's): a record's write and fsyncs took 6–12 ms
    // here, the tree's read ~4 ms. Decoded after: each step of the rebase's write waits
    // for this thread, which a decode holds for ~10 ms.
    const stored = previous.stale || state.tree ? undefined : this.#readStored(oldKey);
    // A tree kept in memory let its digest input go when the source became idle: taken
    // back from the store, for the tree to fold its changes from.
    const kept = previous.stale ? undefined : state.tree;
    if (kept) void this.#readDigestInput(oldKey)?.then((input) => input && kept.adoptDigestInput(input));
    try {
      const record = { ...state.record };
      await this.metaQueue.run([oldKey, id.key], () => this.#meta.rebase(oldKey, record));
    } catch (err) {
      this.sources.delete(id.key);
      state.record = previous;
      this.sources.set(oldKey, state);
      state.refs--;
      throw wrapStoreError(err, id.key, "rebase");
    }
    // The tree recorded for the old key (moved along by the rebase) describes the directory.
    const base = previous.stale ? undefined : await this.loadTree(state, onSize, stored);
    return { state, base };
  }

  /** A new, empty snapshot for `id`, recorded as stale until its first transfer succeeds. */
  async create(id: RemoteIdentifier): Promise<SourceState> {
    const record: SourceRecord = {
      key: id.key,
      sharedKey: id.sharedKey ?? "",
      backendId: randomId(),
      lastUsed: this.#clock(),
      priority: 0,
      size: null,
      // Stale until the transfer succeeds: after a crash mid-transfer the record must not
      // claim that the half-written directory is complete.
      stale: true,
    };
    const state: SourceState = { record, dir: "", refs: 1, generation: 0, transferring: true, deleting: false };
    this.sources.set(id.key, state);
    try {
      state.dir = await this.#backend.get(record.backendId);
      await this.metaQueue.run([id.key], () => this.#meta.put({ ...record }));
    } catch (err) {
      this.sources.delete(id.key);
      await this.#backend.remove(record.backendId).catch(() => undefined);
      throw wrapStoreError(err, id.key, "create");
    }
    return state;
  }
}

/** The names {@linkcode randomId} makes. */
const SNAPSHOT_ID = /^[0-9a-f]{32}$/;

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads of a stored tree under way: the tree's bytes, and its digest input where the store keeps one. */
interface StoredReads {
  key: string;
  data: Promise<Uint8Array | undefined>;
  input: Promise<Uint8Array | undefined> | undefined;
}
