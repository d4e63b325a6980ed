/**
 * The synchronous tree walk of the local transport: every entry below a root with its
 * stat, in walk order (depth first, names sorted, so a directory precedes its
 * children), honouring `.dockerignore`-style excludes. Resumable in slices, so the
 * main thread can walk a small tree between event-loop turns and a worker can walk a
 * big one in one go.
 * @module
 */
import { errorCode, FSCacheError, isGone } from "../../core/errors.ts";
import type { FileStats } from "../../core/file_system.ts";
import { listingKeyOf, walkSalt } from "../../core/listing_key.ts";
import { LISTING_KEY_AT } from "../../core/table_columns.ts";
import { type ExcludeMatcher, excludeMatcher } from "../diffcopy/excludes.ts";
import type { RecordedListings } from "./recorded_listings.ts";
import { lstatOrUndefined, type SyncFs } from "./sync_fs.ts";

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/**
 * Numbers stored per entry in {@linkcode WalkResult.stats}: mode, uid, gid, size,
 * mtimeMs, listingKey (directories; `NaN` for other kinds and where there is none).
 */
export const STAT_FIELDS = 6;

/**
 * A walked tree in a compact, transferable shape (one `Float64Array` instead of an
 * object per entry: 100k entries cross a worker boundary in milliseconds).
 */
export interface WalkResult {
  /** Relative `/`-separated paths, in walk order. */
  paths: string[];
  /** {@linkcode STAT_FIELDS} numbers per entry: mode, uid, gid, size, mtimeMs, listingKey. */
  stats: Float64Array;
  /** Symlink target per entry; `""` for other kinds. */
  links: string[];
  /** Devices, fifos and sockets found and left out (a snapshot holds none). */
  skipped: string[];
}

/** What to leave out of a walk. */
export interface WalkOptions {
  /** `.dockerignore` patterns, matched against paths relative to the root. */
  excludes?: readonly string[];
  /** When the root is a symlink to a directory, walk its target (else it is an error). */
  followRootSymlink?: boolean;
  /**
   * Walk only these, in this order: names of the root's (sorted, as {@linkcode rootNames}
   * gives them), paths below it (`dir/sub`: that subtree) and directories ending in `/`
   * (`dir/`: its own entry, not what is below it). One share of a walk split between
   * threads; paths below the root are only for sources without `!` exceptions.
   */
  only?: readonly string[];
  /**
   * What the last sync recorded: a directory whose listing key matches is walked as the
   * entries recorded below it instead of being read (see `recorded_listings.ts`). For a
   * walk on this thread only (it does not cross to a worker).
   */
  listings?: RecordedListings;
  /**
   * Called, with `listings`, for each regular file met in a directory walked from the
   * record whose size or mtime is not the recorded one (`path` relative to the root):
   * a hint that it will be copied, so that what the copy needs can be on its way while
   * the walk goes on. Must not throw.
   */
  prefetch?: (path: string) => void;
  /**
   * The process's working directory (`process.cwd`): while it is the root, files taken
   * from the record are looked up by their relative paths. For a walk on the thread that
   * alone changes it, as `listings` (not in a worker: there the main thread could change
   * it between a look and a lookup).
   */
  cwd?: () => string;
}

interface Frame {
  rel: string;
  abs: string;
  /** The names read from the directory; `undefined` when it is walked from the record. */
  names: string[] | undefined;
  /** The next name's position in `names`; walked from the record, the next entry's index there. */
  next: number;
  /** Index of this directory's own entry; -1 for the root. */
  index: number;
  /** The directory itself is excluded; it is kept only if an exception re-includes a child. */
  excluded: boolean;
}

/**
 * Walks a tree in slices of `step(budget)` entries.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * const walker = new TreeWalker(fs, "/src/project", { excludes: ["node_modules", "*.log"] });
 * while (!walker.step(2000)) await new Promise((r) => setImmediate(r));
 * const { paths } = walker.result();
 * ```
 */
export class TreeWalker {
  readonly #fs: SyncFs;
  readonly #matcher: ExcludeMatcher | undefined;
  /** With `!` exceptions an excluded directory may still hold included entries. */
  readonly #hasExceptions: boolean;
  readonly #stack: Frame[] = [];
  readonly #paths: string[] = [];
  /** {@linkcode STAT_FIELDS} numbers per entry, grown by doubling (a number[] of 500k cost more). */
  #stats = new Float64Array(STAT_FIELDS * 1024);
  readonly #links: string[] = [];
  readonly #skipped: string[] = [];
  readonly #listings: RecordedListings | undefined;
  readonly #prefetch: ((path: string) => void) | undefined;
  /** `fs.lstatInto`, where the file system has it (see {@linkcode #recordedFile}). */
  readonly #lstatInto: SyncFs["lstatInto"];
  readonly #salt: number;
  /** Before any directory is read: what a listing key's racy check measures from. */
  readonly #start = Date.now();
  readonly #root: string;
  readonly #cwd: (() => string) | undefined;
  /** The working directory is the root, as of this step: see {@linkcode #recordedFile}. */
  #relative = false;

  constructor(fs: SyncFs, root: string, options: WalkOptions = {}) {
    this.#fs = fs;
    this.#root = root;
    this.#cwd = options.cwd;
    this.#listings = options.listings;
    this.#prefetch = options.listings && options.prefetch;
    this.#lstatInto = fs.lstatInto?.bind(fs);
    this.#salt = walkSalt(options);
    this.#matcher = excludeMatcher(options.excludes ?? []);
    this.#hasExceptions = this.#matcher?.hasExceptions ?? false;
    const names = options.only ? [...options.only] : rootNames(fs, root, options);
    this.#stack.push({ rel: "", abs: root, names, next: 0, index: -1, excluded: false });
  }

  /** Walks up to about `budget` more entries; true when the walk is complete. */
  step(budget: number): boolean {
    // Nothing else runs on this thread until the step returns: the working directory
    // stays what it is now.
    this.#relative = this.#cwd?.() === this.#root;
    let done = 0;
    while (this.#stack.length > 0) {
      const frame = this.#stack[this.#stack.length - 1] as Frame;
      if (frame.names === undefined) {
        const listings = this.#listings as RecordedListings;
        if (!listings.below(frame.next, frame.rel)) {
          this.#close(frame);
          continue;
        }
        if (done++ >= budget) return false;
        if (!this.#recordedFile(frame, listings)) this.#visitRecorded(frame, listings);
        continue;
      }
      if (frame.next >= frame.names.length) {
        this.#close(frame);
        continue;
      }
      if (done++ >= budget) return false;
      let name = frame.names[frame.next++] as string;
      // An `only` item `dir/` stands for the directory's own entry.
      const entryOnly = frame.index === -1 && name.endsWith("/");
      if (entryOnly) name = name.slice(0, -1);
      const rel = frame.rel === "" ? name : `${frame.rel}/${name}`;
      const excluded = frame.excluded || (this.#matcher?.ignores(rel) ?? false);
      if (excluded && !this.#hasExceptions) continue;
      const abs = `${frame.abs}/${name}`;
      const depth = this.#stack.length;
      this.#visit(rel, abs, excluded, 0, -1);
      if (entryOnly && this.#stack.length > depth) this.#stack.pop();
    }
    return true;
  }

  /**
   * Visits the next entry recorded below `frame`'s directory, then moves past it and
   * what is recorded below it: at once, unless the entry is itself walked from the
   * record (its frame moves its parent on when it closes).
   */
  #visitRecorded(frame: Frame, listings: RecordedListings): void {
    const at = frame.next++;
    const rel = listings.paths[at] as string;
    const excluded = frame.excluded || (this.#matcher?.ignores(rel) ?? false);
    const depth = this.#stack.length;
    if (!excluded || this.#hasExceptions) {
      this.#visit(rel, `${frame.abs}/${rel.slice(frame.rel.length + 1)}`, excluded, 0, at);
    }
    const top = this.#stack[this.#stack.length - 1] as Frame;
    const fromRecord = this.#stack.length > depth && top.names === undefined;
    if (!fromRecord && listings.isDir(at)) frame.next = listings.end(at);
  }

  /**
   * The common entry of a directory walked from the record, taken the short way: a
   * regular file as recorded, still one, not excluded. Its numbers go from `lstatInto`
   * straight into the walk's columns. The walk runs once per sync, before V8 has
   * optimized it, where a stat object and each call cost: a no-op resync of 10k files
   * took ~13 ms less this way. False, with nothing done, for any other entry:
   * {@linkcode #visitRecorded} takes it (and looks again at one that changed kind, or
   * failed to `lstat` for another reason than being gone). Where the working directory
   * is the root, the file is looked up by its relative path, a string the record
   * already holds: building the absolute one, which the call then copies into one
   * piece, cost a no-op resync of 11k entries ~10 ms.
   */
  #recordedFile(frame: Frame, listings: RecordedListings): boolean {
    const lstatInto = this.#lstatInto;
    const at = frame.next;
    if (lstatInto === undefined || frame.excluded || !listings.isFile(at)) return false;
    const rel = listings.paths[at] as string;
    if (this.#matcher?.ignores(rel)) return false;
    const i = this.#paths.length;
    const o = this.#room(i);
    const out = this.#stats;
    try {
      const path = this.#relative ? rel : `${frame.abs}/${rel.slice(frame.rel.length + 1)}`;
      if (!lstatInto(path, out, o)) {
        // Deleted since it was recorded: simply not there.
        frame.next = at + 1;
        return true;
      }
    } catch {
      return false;
    }
    if (((out[o] as number) & S_IFMT) !== S_IFREG) return false;
    out[o + LISTING_KEY_AT] = Number.NaN;
    frame.next = at + 1;
    if (this.#prefetch && listings.changed(at, out[o + 3] as number, out[o + 4] as number)) this.#prefetch(rel);
    this.#paths.push(rel);
    this.#links.push("");
    return true;
  }

  /** Done with `frame`'s directory. */
  #close(frame: Frame): void {
    this.#stack.pop();
    // An excluded directory that kept no re-included child is dropped again.
    if (frame.excluded && frame.index === this.#paths.length - 1) this.#pop();
    const parent = this.#stack[this.#stack.length - 1];
    if (frame.names === undefined && parent !== undefined && parent.names === undefined) parent.next = frame.next;
  }

  /** The walk so far (complete once `step` returned true). */
  result(): WalkResult {
    const stats = this.#stats.slice(0, this.#paths.length * STAT_FIELDS);
    return { paths: this.#paths, stats, links: this.#links, skipped: this.#skipped };
  }

  /** `at`: the entry's index in the record, when the walk knows it (else -1). */
  #visit(rel: string, abs: string, excluded: boolean, attempt: number, at: number): void {
    const fs = this.#fs;
    const stats = lstatOrUndefined(fs, abs);
    if (!stats) return; // deleted since its directory was read: it is simply not there
    const type = stats.mode & S_IFMT;
    const listings = this.#listings;
    if (type === S_IFDIR) {
      const key = listingKeyOf(stats, this.#salt, this.#start);
      const recorded = listings === undefined ? -1 : at >= 0 ? at : listings.search(rel);
      let names: string[] | undefined;
      if (!listings?.matches(recorded, key)) {
        try {
          names = readNames(fs, abs);
        } catch (err) {
          if (!isGone(err)) throw err;
          this.#retry(rel, abs, excluded, attempt, err, at);
          return;
        }
      }
      const index = this.#push(rel, stats, "", key);
      // Under an excluded parent, an exception can name this directory itself.
      const dirExcluded = excluded && (this.#matcher?.ignores(rel) ?? false);
      this.#stack.push({ rel, abs, names, next: names ? 0 : recorded + 1, index, excluded: dirExcluded });
      return;
    }
    if (excluded && this.#matcher?.ignores(rel)) return;
    if (type === S_IFREG) {
      if (at >= 0 && this.#prefetch && listings?.changed(at, stats.size, stats.mtimeMs)) {
        this.#prefetch(rel);
      }
      this.#push(rel, stats, "", Number.NaN);
    } else if (type === S_IFLNK) {
      let target: string;
      try {
        target = fs.readlinkSync(abs);
      } catch (err) {
        if (!isGone(err) && errorCode(err) !== "EINVAL") throw err;
        this.#retry(rel, abs, excluded, attempt, err, at);
        return;
      }
      this.#push(rel, stats, target, Number.NaN);
    } else {
      this.#skipped.push(rel);
    }
  }

  /** An entry changed kind or vanished while being read: look once more, then give up. */
  #retry(rel: string, abs: string, excluded: boolean, attempt: number, cause: unknown, at: number): void {
    if (attempt > 0) {
      throw new FSCacheError("ERR_SOURCE_CHANGED", `source entry kept changing while it was read: ${rel}`, {
        path: rel,
        cause,
      });
    }
    this.#visit(rel, abs, excluded, attempt + 1, at);
  }

  #push(rel: string, stats: FileStats, link: string, key: number): number {
    const i = this.#paths.length;
    let o = this.#room(i);
    const out = this.#stats;
    out[o++] = stats.mode;
    out[o++] = stats.uid;
    out[o++] = stats.gid;
    out[o++] = stats.size;
    out[o++] = stats.mtimeMs;
    out[o] = key;
    this.#paths.push(rel);
    this.#links.push(link);
    return i;
  }

  /** Where entry `i`'s numbers go in {@linkcode #stats}, grown to hold them. */
  #room(i: number): number {
    const o = i * STAT_FIELDS;
    if (o + STAT_FIELDS > this.#stats.length) {
      const bigger = new Float64Array(this.#stats.length * 2);
      bigger.set(this.#stats);
      this.#stats = bigger;
    }
    return o;
  }

  #pop(): void {
    this.#paths.pop();
    this.#links.pop();
    // Its stats are overwritten by the next push; result() copies only the live part.
  }
}

/**
 * Walks a whole tree at once (inside a worker, or for small trees).
 *
 * @example
 * ```ts
 * const { paths, stats } = walkTree(fs, "/src/project", { excludes: ["*.tmp"] });
 * ```
 */
export function walkTree(fs: SyncFs, root: string, options?: WalkOptions): WalkResult {
  const walker = new TreeWalker(fs, root, options);
  walker.step(Number.POSITIVE_INFINITY);
  return walker.result();
}

/**
 * The sorted names in a walk's root, after checking that it is a directory (or, with
 * `followRootSymlink`, a symlink to one).
 *
 * @example
 * ```ts
 * const [first, ...rest] = rootNames(fs, "/src/project", {});
 * ```
 */
export function rootNames(fs: SyncFs, root: string, options: WalkOptions): string[] {
  let stats = lstatOrUndefined(fs, root);
  if (stats?.isSymbolicLink() && options.followRootSymlink !== false) stats = statOrUndefined(fs, root);
  if (!stats) throw new FSCacheError("ENOENT", `source directory not found: ${root}`, { path: root });
  if (!stats.isDirectory()) {
    throw new FSCacheError("ERR_NOT_A_DIRECTORY", `source is not a directory: ${root}`, { path: root });
  }
  return readNames(fs, root);
}

function readNames(fs: SyncFs, dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

function statOrUndefined(fs: SyncFs, path: string): FileStats | undefined {
  try {
    return fs.statSync(path);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}
