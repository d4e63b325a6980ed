/**
 * The contract between the cache and what it is built from: where snapshots live
 * ({@linkcode Backend}), how they are filled ({@linkcode Transport}), where records
 * persist ({@linkcode MetaStore}), and what callers get back ({@linkcode Source}).
 * @module
 */
import type { FileSystem } from "./file_system.ts";

/**
 * Identifies one transfer request. Equal `key`s mean equal data; requests with the
 * same non-empty `sharedKey` are likely similar, so one can be the base of another.
 * Extra properties are passed through to the transport untouched.
 */
export interface RemoteIdentifier {
  readonly key: string;
  readonly sharedKey?: string;
  readonly transport: string;
  readonly [extra: string]: unknown;
}

/** Where snapshot directories live. */
export interface Backend {
  /** The file system the snapshot directories are on. */
  readonly fs: FileSystem;
  /** Path of the snapshot directory for `id`, created if missing. */
  get(id: string): Promise<string>;
  /** Deletes the snapshot directory for `id` (no error when it is already gone). */
  remove(id: string): Promise<void>;
  /** Ids of every snapshot directory present, to find orphans and lost directories. */
  list(): Promise<string[]>;
}

/** A streaming SHA-256. `digest()` returns lowercase hex and may be called once. */
export interface Sha256 {
  update(data: Uint8Array | string): void;
  digest(): string;
}

/** Makes a fresh {@linkcode Sha256}; injected so the core imports no runtime crypto. */
export type Sha256Factory = () => Sha256;

/** What happened to one path during a transfer. */
export type ChangeKind = "add" | "modify" | "delete";

/**
 * What an entry looked like when it was last synced: enough for a transport to tell
 * it unchanged without reading it. Transports record the *source* entry's stat (so the
 * next sync compares like with like); a rescan records the snapshot's own.
 */
export interface EntryStat {
  /** `st_mode`, file-type bits included. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for regular files. */
  size: number;
  mtimeMs: number;
  /** Target, for symlinks. */
  linkname?: string;
  /**
   * For a directory, when the transport that walked it can tell: a number it derived
   * from what identifies the directory's listing at that walk (its inode, its
   * status-change time, the walk's excludes). A later walk that derives the same number
   * may take the directory's children from the record instead of reading the directory.
   */
  listingKey?: number;
}

/** One entry of a {@linkcode RecordedTree}. */
export interface RecordedEntry {
  /** Entry checksum (SPEC §4.1, hex). */
  checksum: string;
  /** Absent when the transport that wrote the entry did not report it. */
  stat?: EntryStat;
}

/**
 * The recorded state of a snapshot after its last successful sync: every entry below
 * the root, keyed by its cleaned relative path. Lets a transport find what changed by
 * walking only the source side.
 */
export interface RecordedTree {
  readonly size: number;
  get(path: string): RecordedEntry | undefined;
  /** Every entry, in SPEC §5.2 walk order (`/` sorts before every other byte). */
  entries(): Iterable<[path: string, entry: RecordedEntry]>;
}

/**
 * What a transport reports its changes through. A transport that calls
 * `markSupported(true)` promises to report every change with its checksum, so the
 * cache need not rescan the snapshot afterwards.
 */
export interface CacheUpdater {
  markSupported(supported: boolean): void;
  /**
   * `path` is relative to the snapshot root, cleaned, `/`-separated. For `add`/`modify`,
   * `checksum` is the entry checksum (SPEC §4.1, hex) and `stat` what the entry was
   * synced from. A `delete` of a directory removes everything below it too.
   */
  handleChange(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void;
  /** The SHA-256 to compute entry checksums with while data streams in. */
  readonly sha256: Sha256Factory;
}

/** Everything a transport gets for one copy. */
export interface CopyRequest {
  /** The request being served, with any extra properties the caller set. */
  readonly id: RemoteIdentifier;
  /** Snapshot directory to make equal to the remote tree. */
  readonly dest: string;
  /** The file system `dest` is on. */
  readonly fs: FileSystem;
  readonly updater: CacheUpdater;
  readonly signal: AbortSignal;
  /**
   * The snapshot's state as recorded after its last successful sync; absent when the
   * snapshot is new, stale (a sync failed half-way) or was never recorded — then the
   * transport must look at `dest` itself.
   */
  readonly previous?: RecordedTree;
}

/** What a transport is told as soon as a copy is certain: see {@linkcode Transport.prepare}. */
export interface PrepareRequest {
  readonly id: RemoteIdentifier;
  /** The file system the snapshot is on. */
  readonly fs: FileSystem;
  /**
   * Entries the snapshot being updated recorded at its last sync, when the cache knows
   * (it rebases onto a snapshot with a stored tree); absent for a new snapshot or a repair.
   */
  readonly entries?: number;
}

/** A way to copy a remote tree into a directory, incrementally. */
export interface Transport {
  copy(request: CopyRequest): Promise<void>;
  /**
   * Optional: called once before `copy` for `id`, as soon as the cache knows it will
   * copy and, when it rebases, how many entries the snapshot recorded: after reading the
   * recorded tree, before decoding it (a 100k-entry tree takes a tenth of a second):
   * the time to start what is slow to start, such as worker threads. Must not throw;
   * `copy` may still never come (another caller's sync failed).
   */
  prepare?(request: PrepareRequest): void;
}

/** The persistent record of one snapshot. */
export interface SourceRecord {
  /** The key of the last request this snapshot was synced for. */
  key: string;
  sharedKey: string;
  /** Directory id handed to {@linkcode Backend.get}. */
  backendId: string;
  /** Milliseconds since the epoch (the cache's clock). */
  lastUsed: number;
  priority: number;
  /** Bytes, or `null` when unknown (recomputed lazily). */
  size: number | null;
  /** True when a sync failed half-way: the directory and its hash tree may disagree. */
  stale: boolean;
}

/**
 * Persistent records, one per source key, plus each source's serialized hash tree.
 * `rebase` must be atomic: afterwards the record is under the old key or the new
 * one, never both or neither, and the hash tree moves with it.
 */
export interface MetaStore {
  /** Every readable record. Unreadable ones are skipped (and reported by the store). */
  loadAll(): Promise<SourceRecord[]>;
  put(record: SourceRecord): Promise<void>;
  /** Deletes the record and its hash tree; no error when missing. */
  delete(key: string): Promise<void>;
  /** Moves the record (and hash tree) stored under `oldKey` to `record.key`. */
  rebase(oldKey: string, record: SourceRecord): Promise<void>;
  getHashTree(key: string): Promise<Uint8Array | undefined>;
  putHashTree(key: string, data: Uint8Array): Promise<void>;
  /**
   * Optional: the digest input last put for `key` (a fresh copy), or `undefined`. A
   * cache that saves a resync the sort of every checksum: the cache checks it against
   * the hash tree before use, so a store may lose it, or keep a stale one, at any time.
   */
  getDigestInput?(key: string): Promise<Uint8Array | undefined>;
  /**
   * Optional: keeps `data` for `key` beside its hash tree, replacing what was there;
   * need not be durable. `delete` removes it and `rebase` moves it with the tree (or
   * drops it).
   */
  putDigestInput?(key: string, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * A synced snapshot handed to a caller. Holding it keeps the snapshot from being
 * garbage-collected; `close()` (or `await using`) releases it.
 */
export interface Source extends AsyncDisposable {
  readonly key: string;
  /** The snapshot directory. */
  readonly root: string;
  readonly fs: FileSystem;
  /** `file:<hex>` or `dir:<hex>` checksum of a path below `root` (SPEC §4.2). */
  hash(path: string): Promise<string>;
  /** Releases this reference; a second call does nothing. */
  close(): Promise<void>;
}

/** When idle snapshots are deleted. */
export interface GCPolicy {
  /** Idle bytes kept at most. Default 512 MiB. */
  maxSize: number;
  /** Milliseconds an idle snapshot is kept after its last use. Default 7 days. */
  maxKeepDuration: number;
}

/** Receives what the cache reports but never throws at its callers. */
export interface Logger {
  warn(message: string, error?: unknown): void;
}

/** One row of {@linkcode FSCache.sources}. */
export interface SourceInfo {
  key: string;
  sharedKey: string;
  backendId: string;
  path: string;
  /** Bytes (computed if it was unknown). */
  size: number;
  lastUsed: number;
  /** References held by callers right now. */
  refs: number;
  stale: boolean;
}
