/**
 * Records on the local disk, crash-safe: one small file per *snapshot*, replaced
 * atomically, so re-keying a snapshot (rebase) is a single rename. The layout and the
 * argument why a crash never shows both keys or neither are in docs/STORAGE.md.
 * @module
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
} from "node:fs";
import { hexOf } from "../core/byte_io.ts";
import { describeError, errorCode, FSCacheError } from "../core/errors.ts";
import { KeyedQueue } from "../core/keyed_queue.ts";
import { Limiter } from "../core/limiter.ts";
import type { Logger, MetaStore, SourceRecord } from "../core/types.ts";
import { checkCacheRoot } from "./_cache_root.ts";
import { readWholeFile, removeFile } from "./_fs_callbacks.ts";
import {
  DirSync,
  decodeRecord,
  decodeTree,
  encodeRecord,
  overwriteFile,
  type StoredRecord,
  TEMP_PREFIX,
  treeFile,
  writeFileAtomic,
} from "./_meta_files.ts";
import { RootLock } from "./_root_lock.ts";
import { randomBytes } from "./node_crypto.ts";

/** Options for {@linkcode FileMetaStore}. */
export interface FileMetaStoreOptions {
  /** Where skipped records and other recoveries are reported. Default: `console.warn`. */
  logger?: Logger;
}

const SLOT_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const RECORD_EXT = ".rec";
const TREE_EXT = ".tree";
/** The root digest's input, a cache beside the tree (see `MetaStore.putDigestInput`). */
const INPUT_EXT = ".digest-input";

const consoleLogger: Logger = {
  warn(message, error) {
    if (error === undefined) console.warn(`[fscache] [file-meta-store] ${message}`);
    else console.warn(`[fscache] [file-meta-store] ${message}:`, describeError(error));
  },
};

/**
 * Records under `<root>/meta/`, holding an exclusive lock on `root` from construction
 * until `close()`. A second store on the same root — in this process or another —
 * throws `ERR_LOCKED` naming the holder's pid; a lock left by a dead process is taken over.
 *
 * Each record lives in a *slot* file `meta/<slot>.rec` (the slot is normally the
 * snapshot's backend id) with the key inside it, and its hash tree in `meta/<slot>.tree`.
 * Every change to a record is one atomic replace of its slot file.
 *
 * @example
 * ```ts
 * const metaStore = new FileMetaStore("/var/cache/fscache");
 * const cache = await FSCache.open({ backend: new DiskBackend("/var/cache/fscache"), metaStore });
 * await cache.close(); // closes the store, releasing the lock
 * ```
 */
export class FileMetaStore implements MetaStore {
  /** The cache root. */
  readonly root: string;
  /** `<root>/meta`. */
  readonly dir: string;
  readonly #logger: Logger;
  readonly #lock: RootLock;
  readonly #dirSync: DirSync;
  /**
   * Per-slot order of file operations, so two writes to one slot land in call order: a
   * slot's record under the slot's name, its tree under {@linkcode treeOf} (a tree's read
   * need not wait for a record's write, as when a rebase and the tree's read overlap),
   * its digest input under {@linkcode inputOf}. `close` waits for all of them.
   */
  readonly #queue = new KeyedQueue();
  /** Bounds file operations in flight (a GC sizing 10,000 sources must not open 10,000 files at once). */
  readonly #limit = new Limiter(16);
  /** key → slot, for every record and for hash trees put before their record. */
  readonly #slotOf = new Map<string, string>();
  /** slot → current record (absent for a slot holding only a hash tree). Map order = load order. */
  readonly #records = new Map<string, SourceRecord>();
  /** Slots in use, so a new one never collides. */
  readonly #taken = new Set<string>();
  #seq = 0;
  #loaded = false;
  #closed = false;

  constructor(root: string, options: FileMetaStoreOptions = {}) {
    this.root = checkCacheRoot(root);
    this.dir = `${this.root}/meta`;
    this.#logger = options.logger ?? consoleLogger;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#lock = RootLock.acquire(`${this.root}/lock`, this.root);
    this.#dirSync = new DirSync(this.dir);
  }

  async loadAll(): Promise<SourceRecord[]> {
    this.#ready();
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  async put(record: SourceRecord): Promise<void> {
    this.#ready();
    const copy = { ...record };
    const slot = this.#slotFor(copy.key, copy.backendId);
    await this.#queue.run([slot], () => this.#limit.run(() => this.#writeRecord(slot, copy)));
    // Only once written: loadAll() reports what is on disk.
    if (this.#slotOf.get(copy.key) === slot) this.#records.set(slot, copy);
  }

  async delete(key: string): Promise<void> {
    this.#ready();
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return;
    this.#slotOf.delete(key);
    this.#records.delete(slot);
    // The name is free at once: a later write to it queues behind this removal.
    this.#taken.delete(slot);
    await this.#queue.run([slot, treeOf(slot), inputOf(slot)], () => this.#limit.run(() => this.#removeSlot(slot)));
  }

  /**
   * One atomic replace of the old key's slot file: its content names the new key, and
   * the hash tree, stored by slot, stays where it is.
   */
  async rebase(oldKey: string, record: SourceRecord): Promise<void> {
    this.#ready();
    const slot = this.#slotOf.get(oldKey);
    if (slot === undefined || oldKey === record.key) return await this.put(record);
    const copy = { ...record };
    // The new key may have a record of its own (not something the cache does): it is replaced.
    const displaced = this.#slotOf.get(copy.key);
    // Re-keyed at once, so calls made from now on find the slot under the new key.
    this.#slotOf.delete(oldKey);
    this.#slotOf.set(copy.key, slot);
    const slots = displaced === undefined ? [slot] : [slot, displaced, treeOf(displaced), inputOf(displaced)];
    await this.#queue.run(slots, () =>
      this.#limit.run(async () => {
        try {
          await this.#writeRecord(slot, copy);
        } catch (err) {
          // Nothing changed on disk: the slot is the old key's again.
          if (this.#slotOf.get(copy.key) === slot) {
            this.#slotOf.delete(copy.key);
            if (displaced !== undefined) this.#slotOf.set(copy.key, displaced);
          }
          if (!this.#slotOf.has(oldKey)) this.#slotOf.set(oldKey, slot);
          throw err;
        }
        this.#records.set(slot, copy);
        if (displaced !== undefined) {
          this.#records.delete(displaced);
          this.#taken.delete(displaced);
          // A crash before this leaves two files naming the key; the higher `seq` wins on open.
          await this.#removeSlot(displaced);
        }
      }),
    );
  }

  async getHashTree(key: string): Promise<Uint8Array | undefined> {
    this.#ready();
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return undefined;
    return await this.#queue.run([treeOf(slot)], async () => {
      let file: Uint8Array;
      try {
        file = await readWholeFile(this.#path(slot, TREE_EXT));
      } catch (err) {
        if (errorCode(err) === "ENOENT") return undefined;
        throw err;
      }
      const tree = decodeTree(file);
      if (tree === undefined) {
        this.#logger.warn(`hash tree of key ${JSON.stringify(key)} is damaged; moved to quarantine`);
        this.#quarantine(`${slot}${TREE_EXT}`);
      }
      return tree;
    });
  }

  async putHashTree(key: string, data: Uint8Array): Promise<void> {
    this.#ready();
    // A tree may arrive before its record; the slot is reserved now, its record comes later.
    const slot = this.#slotFor(key, "");
    const file = treeFile(data);
    await this.#queue.run([treeOf(slot)], () =>
      this.#limit.run(async () => {
        await writeFileAtomic(this.dir, `${slot}${TREE_EXT}`, file);
        await this.#dirSync.sync();
      }),
    );
  }

  /** The last digest input put for `key`'s slot; `undefined` when there is none. */
  async getDigestInput(key: string): Promise<Uint8Array | undefined> {
    this.#ready();
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return undefined;
    return await this.#queue.run([inputOf(slot)], async () => {
      try {
        const file = await this.#limit.run(() => readWholeFile(this.#path(slot, INPUT_EXT)));
        // A plain Uint8Array of the file's own bytes, as the trees are handed out.
        return new Uint8Array(file.buffer, file.byteOffset, file.length);
      } catch (err) {
        if (errorCode(err) === "ENOENT") return undefined;
        throw err;
      }
    });
  }

  /**
   * Replaces `key`'s digest input in place, without an fsync: the cache checks it
   * against the tree before use, so one torn or lost by a crash costs only the work it
   * would have saved (and one left without a record is deleted on open).
   */
  async putDigestInput(key: string, data: Uint8Array): Promise<void> {
    this.#ready();
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return;
    await this.#queue.run([inputOf(slot)], () =>
      this.#limit.run(() => overwriteFile(this.#path(slot, INPUT_EXT), data)),
    );
  }

  /** Waits for writes in flight, then releases the lock. Later calls fail with `ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#queue.drain();
    } finally {
      this.#lock.release();
    }
  }

  #ready(): void {
    if (this.#closed) throw new FSCacheError("ERR_CLOSED", `the meta store at ${this.root} is closed`);
    if (!this.#loaded) {
      this.#loaded = true;
      this.#scan();
    }
  }

  /**
   * Reads every record in one synchronous pass (a sync read costs ~1 µs where an
   * awaited one costs ~50 µs; 10,000 records load in well under a second), and
   * repairs what a crash can leave: temp files, duplicate keys, trees without records.
   * Nobody else writes here meanwhile: we hold the lock.
   */
  #scan(): void {
    const best = new Map<string, { slot: string; stored: StoredRecord }>();
    /** Tree and digest-input files, by name: each goes unless its slot has a record. */
    const beside = new Map<string, string>();
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        rmSync(`${this.dir}/${name}`, { force: true });
        continue;
      }
      const ext = [RECORD_EXT, TREE_EXT, INPUT_EXT].find((e) => name.endsWith(e)) ?? "";
      const slot = name.slice(0, name.length - ext.length);
      if (ext === "" || !SLOT_PATTERN.test(slot)) continue;
      if (ext !== RECORD_EXT) {
        beside.set(name, slot);
        continue;
      }
      const stored = this.#readRecord(slot);
      if (stored === undefined) continue;
      this.#seq = Math.max(this.#seq, stored.seq);
      const rival = best.get(stored.record.key);
      if (rival === undefined) {
        best.set(stored.record.key, { slot, stored });
        continue;
      }
      // Two files name one key: a rebase onto an existing key was cut short. The later write wins.
      const [winner, loser] = rival.stored.seq > stored.seq ? [rival, { slot, stored }] : [{ slot, stored }, rival];
      best.set(stored.record.key, winner);
      this.#logger.warn(`dropping an older duplicate record of key ${JSON.stringify(stored.record.key)}`);
      this.#removeSlotSync(loser.slot);
    }
    for (const [key, { slot, stored }] of best) {
      this.#slotOf.set(key, slot);
      this.#records.set(slot, stored.record);
      this.#taken.add(slot);
    }
    for (const [name, slot] of beside) {
      // A tree whose record was deleted (or never written) before a crash: nothing can reach it.
      if (!this.#taken.has(slot)) rmSync(`${this.dir}/${name}`, { force: true });
    }
  }

  #readRecord(slot: string): StoredRecord | undefined {
    let stored: StoredRecord | undefined;
    try {
      stored = decodeRecord(readSmallFile(this.#path(slot, RECORD_EXT)));
    } catch (err) {
      this.#logger.warn(`cannot read record file ${slot}${RECORD_EXT}`, err);
      return undefined;
    }
    if (stored === undefined) {
      this.#logger.warn(`skipping an unreadable record in ${slot}${RECORD_EXT}; moved to quarantine`);
      this.#quarantine(`${slot}${RECORD_EXT}`);
      if (existsSync(this.#path(slot, TREE_EXT))) this.#quarantine(`${slot}${TREE_EXT}`);
    }
    return stored;
  }

  /** The slot of `key`, reserving one if it has none: the backend id when free, else a random name. */
  #slotFor(key: string, backendId: string): string {
    let slot = this.#slotOf.get(key);
    if (slot !== undefined) return slot;
    slot = SLOT_PATTERN.test(backendId) && !this.#taken.has(backendId) ? backendId : `x${randomHex()}`;
    this.#slotOf.set(key, slot);
    this.#taken.add(slot);
    return slot;
  }

  async #writeRecord(slot: string, record: SourceRecord): Promise<void> {
    await writeFileAtomic(this.dir, `${slot}${RECORD_EXT}`, encodeRecord({ seq: ++this.#seq, record }));
    await this.#dirSync.sync();
  }

  /** Record first, then tree: a crash in between leaves only an unreachable tree, removed on open. */
  async #removeSlot(slot: string): Promise<void> {
    await removeFile(this.#path(slot, RECORD_EXT));
    await this.#dirSync.sync();
    await removeFile(this.#path(slot, TREE_EXT));
    await removeFile(this.#path(slot, INPUT_EXT));
  }

  #removeSlotSync(slot: string): void {
    rmSync(this.#path(slot, RECORD_EXT), { force: true });
    rmSync(this.#path(slot, TREE_EXT), { force: true });
    rmSync(this.#path(slot, INPUT_EXT), { force: true });
  }

  /** Moves a damaged file aside for inspection; the store never reads it again. */
  #quarantine(name: string): void {
    const dir = `${this.dir}/quarantine`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      renameSync(`${this.dir}/${name}`, `${dir}/${name}.${Date.now()}`);
    } catch (err) {
      this.#logger.warn(`could not move ${name} to quarantine`, err);
    }
  }

  #path(slot: string, ext: string): string {
    return `${this.dir}/${slot}${ext}`;
  }
}

/** The queue key of a slot's tree (no slot name has a `/`). */
function treeOf(slot: string): string {
  return `${slot}/tree`;
}

/** The queue key of a slot's digest input. */
function inputOf(slot: string): string {
  return `${slot}/input`;
}

const readBuffer = new Uint8Array(16 * 1024);
const utf8 = new TextDecoder();

/**
 * `readFileSync(path, "utf8")` for files that are nearly always small: open, one read
 * into a shared buffer, close. Skips the fstat and option handling that made up a
 * third of loading 10,000 records.
 */
function readSmallFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, readBuffer, 0, readBuffer.length, 0);
    if (n < readBuffer.length) return utf8.decode(readBuffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, "utf8");
}

// Not the global Web Crypto's: its first call loads Web Crypto (~1.8 ms here), and
// `node:crypto` more, which a sync would load for this alone.
function randomHex(): string {
  return hexOf(randomBytes(8));
}
