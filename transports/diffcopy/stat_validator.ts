/**
 * SPEC §5.3: the receiver checks every STAT before anything touches the disk. A path
 * must be relative, clean, free of `..`, strictly after the previous one in walk
 * order, and inside a directory the sender already sent as a directory (so
 * `link → /etc` then `link/passwd` is refused); a hard link must point at an earlier
 * regular file; the entry count and declared bytes stay under the limits.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { posixModeFromGo } from "./file_mode.ts";
import type { Stat } from "./packet.ts";

/** What an entry is, from its mode (and linkname for hard links). */
export type EntryKind = "dir" | "file" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo";

/** A validated STAT: its wire id (its position in the list) and its POSIX mode. */
export interface IncomingEntry {
  id: number;
  path: string;
  kind: EntryKind;
  /** POSIX `st_mode` (type bits included). */
  mode: number;
  stat: Stat;
}

/** Per-sync limits of a receiver. */
export interface ReceiveLimits {
  /** Most entries accepted (default 1,000,000). */
  maxEntries: number;
  /** Most regular-file bytes accepted, summed over the tree (default unlimited). */
  maxBytes: number;
}

/** Defaults of {@linkcode ReceiveLimits}. */
export const DEFAULT_RECEIVE_LIMITS: ReceiveLimits = { maxEntries: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER };

function reject(path: string, reason: string): never {
  throw new FSCacheError("ERR_PROTOCOL", `rejected entry ${JSON.stringify(path)}: ${reason}`, { path });
}

function kindOf(mode: number, stat: Stat): EntryKind {
  switch (mode & 0o170000) {
    case 0o040000:
      return "dir";
    case 0o120000:
      return "symlink";
    case 0o020000:
      return "chardev";
    case 0o060000:
      return "blockdev";
    case 0o010000:
      return "fifo";
    default:
      return stat.linkname === "" ? "file" : "hardlink";
  }
}

/** Every `/`-separated segment non-empty and neither `.` nor `..`, in one pass without arrays. */
function checkSegments(path: string): void {
  let start = 0;
  let dotDot = false;
  let unclean = false;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 0x2f) continue;
    const length = i - start;
    const dots =
      length <= 2 && path.charCodeAt(start) === 0x2e && (length === 1 || path.charCodeAt(start + 1) === 0x2e);
    if (length === 2 && dots) dotDot = true;
    if (length === 0 || (length === 1 && dots)) unclean = true;
    start = i + 1;
  }
  if (dotDot) reject(path, "path contains ..");
  if (unclean) reject(path, "path is not clean");
}

/**
 * Checks STATs one by one, in the order they arrive.
 *
 * @example
 * ```ts
 * const v = new StatValidator();
 * v.check(stat({ path: "dir", mode: 0x80000000 | 0o755 }));
 * v.check(stat({ path: "dir/a", mode: 0o644, size: 1 }));
 * v.check(stat({ path: "../x", mode: 0o644 })); // throws ERR_PROTOCOL
 * ```
 */
export class StatValidator {
  readonly #limits: ReceiveLimits;
  #last: string | undefined;
  readonly #dirs = new Set<string>();
  /** The parent of the last entry, known to be a directory sent before (most entries share it). */
  #lastParent = "";
  /**
   * Regular files so far, for hard-link targets: a list until the first hard link needs
   * a set (hashing 100k paths into a set cost more than any other check).
   */
  #fileList: string[] | undefined = [];
  #files: Set<string> | undefined;
  #count = 0;
  /** Regular-file bytes declared so far. */
  bytes = 0;

  constructor(limits: Partial<ReceiveLimits> = {}) {
    this.#limits = { ...DEFAULT_RECEIVE_LIMITS, ...limits };
  }

  check(stat: Stat): IncomingEntry {
    const path = stat.path;
    if (path === "") reject(path, "empty path");
    if (path.includes("\0")) reject(path, "path contains a NUL byte");
    if (path.startsWith("/")) reject(path, "absolute path");
    checkSegments(path);
    if (this.#last !== undefined && compareWalkOrder(this.#last, path) >= 0) {
      reject(path, `out of order (after ${JSON.stringify(this.#last)})`);
    }
    const slash = path.lastIndexOf("/");
    const lastParent = this.#lastParent;
    if (slash !== -1 && !(slash === lastParent.length && path.startsWith(lastParent))) {
      const parent = path.slice(0, slash);
      if (!this.#dirs.has(parent)) reject(path, "parent was not sent as a directory");
      this.#lastParent = parent;
    }
    const mode = posixModeFromGo(stat.mode);
    if (mode === undefined) reject(path, `invalid mode 0x${(stat.mode >>> 0).toString(16)}`);
    const kind = kindOf(mode, stat);
    if (stat.size < 0) reject(path, "negative size");
    if (kind === "symlink" && stat.linkname === "") reject(path, "symlink without a target");
    if (kind === "symlink" && stat.linkname.includes("\0")) reject(path, "symlink target contains a NUL byte");
    if (kind === "hardlink" && !this.#fileSet().has(stat.linkname)) {
      reject(path, `hard link to unknown or later path ${JSON.stringify(stat.linkname)}`);
    }
    this.#count++;
    if (this.#count > this.#limits.maxEntries) {
      throw new FSCacheError("ERR_LIMIT", `more than ${this.#limits.maxEntries} entries`, { path });
    }
    if (kind === "file") {
      this.bytes += stat.size;
      if (this.bytes > this.#limits.maxBytes) {
        throw new FSCacheError("ERR_LIMIT", `tree exceeds the limit of ${this.#limits.maxBytes} bytes`, { path });
      }
      if (this.#files) this.#files.add(path);
      else (this.#fileList as string[]).push(path);
    }
    if (kind === "dir") this.#dirs.add(path);
    this.#last = path;
    return { id: this.#count - 1, path, kind, mode, stat };
  }

  #fileSet(): Set<string> {
    if (!this.#files) {
      this.#files = new Set(this.#fileList);
      this.#fileList = undefined;
    }
    return this.#files;
  }
}
