/**
 * Diffing the sender's entry list against the destination's snapshot (SPEC §5): what
 * to delete, and which entries to create or update. Equal entries (same type, mode,
 * owner when known, size, mtime, link target) are left alone: no request, no write,
 * no hashing.
 * @module
 */
import type { EntryStat } from "../../core/types.ts";
import type { Snapshot } from "./snapshot.ts";
import type { IncomingEntry } from "./stat_validator.ts";

/** One entry to create or update; `existed` says whether the path was there before. */
export interface PlannedChange {
  entry: IncomingEntry;
  existed: boolean;
}

/** What a receive must do to the destination. */
export interface ChangePlan {
  /** Paths to remove, parents only (removing a directory removes what is below it). */
  deletes: string[];
  /** Entries to create or update, in walk order. */
  changes: PlannedChange[];
  /** Directories equal but for their mtime (a cut transfer moved it): only their time is set. */
  retimes: string[];
}

/** Options of {@linkcode planChanges}. */
export interface PlanOptions {
  /**
   * Compare uid/gid too. Only meaningful when the snapshot holds the *sender's* stats
   * (a recorded tree): a receiver that cannot chown sees its own ids on disk.
   */
  compareOwner: boolean;
  /** Compare symlinks' own mtimes too: the receiver can set them (`lutimes`). */
  linkTimes?: boolean;
  /**
   * Paths whose content is known to differ though their stats match (the tar import
   * compares content as it streams): planned as changes all the same.
   */
  differs?: (path: string) => boolean;
}

/**
 * Sender mtime (ns) against ours (ms): equal within 1 ms. memfs keeps milliseconds, and
 * Deno's `lstat` truncates to whole milliseconds a time `utimes` stored a hair below.
 */
function sameMtime(haveMs: number, modTimeNs: bigint): boolean {
  return Math.abs(haveMs - Number(modTimeNs) / 1e6) <= 1;
}

/**
 * True when the destination's entry already equals the sender's.
 *
 * @example
 * ```ts
 * sameEntry(entry, snapshot.get(entry.path), { compareOwner: false });
 * ```
 */
export function sameEntry(entry: IncomingEntry, have: EntryStat | undefined, options: PlanOptions): boolean {
  if (!have) return false;
  if (entry.kind === "hardlink" || entry.kind === "chardev" || entry.kind === "blockdev" || entry.kind === "fifo") {
    return false;
  }
  if ((have.mode & 0o170000) !== (entry.mode & 0o170000)) return false;
  if (entry.kind !== "symlink" && (have.mode & 0o7777) !== (entry.mode & 0o7777)) return false;
  if (options.compareOwner && (have.uid !== entry.stat.uid || have.gid !== entry.stat.gid)) return false;
  // A hard link to an earlier path (a regular file with a link name) that the sender now
  // has as a file of its own: equal bytes, but it must stop sharing them.
  if (entry.kind === "file") {
    return have.linkname === undefined && have.size === entry.stat.size && sameMtime(have.mtimeMs, entry.stat.modTime);
  }
  if (entry.kind === "symlink") {
    if (have.linkname !== entry.stat.linkname) return false;
    return !options.linkTimes || sameMtime(have.mtimeMs, entry.stat.modTime);
  }
  return true;
}

/**
 * Plans a receive. Hard links are always planned: whether they still point at the
 * right inode is checked when applying.
 *
 * @example
 * ```ts
 * const plan = planChanges(entries, snapshotFromDisk(fs, dest), { compareOwner: false });
 * plan.deletes; // ["old.txt", "gone-dir"]
 * ```
 */
export function planChanges(incoming: readonly IncomingEntry[], snapshot: Snapshot, options: PlanOptions): ChangePlan {
  const planner = new ChangePlanner(snapshot, options);
  for (const entry of incoming) planner.add(entry);
  return planner.finish(incoming);
}

/**
 * {@linkcode planChanges} an entry at a time, so that a receiver plans each STAT as it
 * arrives, while the sender is still walking, instead of all of them after the last
 * (~10 ms for 10,000 entries, which a push waited for at its end).
 *
 * @example
 * ```ts
 * const planner = new ChangePlanner(snapshotFromRecord(previous), { compareOwner: true });
 * for (const entry of incoming) planner.add(entry); // as each arrives
 * const plan = planner.finish(incoming);
 * ```
 */
export class ChangePlanner {
  readonly #snapshot: Snapshot;
  readonly #options: PlanOptions;
  readonly #changes: PlannedChange[] = [];
  readonly #retimes: string[] = [];
  /**
   * Incoming entries the snapshot holds. Their paths are distinct (the validator checks
   * their order): when as many were found as the snapshot holds, nothing is left to
   * delete and no set is needed.
   */
  #found = 0;

  constructor(snapshot: Snapshot, options: PlanOptions) {
    this.#snapshot = snapshot;
    this.#options = options;
  }

  /** Plans the next incoming entry (in walk order); returns its change, if it needs one. */
  add(entry: IncomingEntry): PlannedChange | undefined {
    // One lookup per entry; `has` only for a path recorded without a stat.
    const have = this.#snapshot.get(entry.path);
    const existed = have !== undefined || this.#snapshot.has(entry.path);
    if (existed) this.#found++;
    if (existed && sameEntry(entry, have, this.#options) && !this.#options.differs?.(entry.path)) {
      if (entry.kind === "dir" && !sameMtime((have as EntryStat).mtimeMs, entry.stat.modTime)) {
        this.#retimes.push(entry.path);
      }
      return undefined;
    }
    const change = { entry, existed };
    this.#changes.push(change);
    return change;
  }

  /** The plan, once every entry of `incoming` was added. */
  finish(incoming: readonly IncomingEntry[]): ChangePlan {
    const deletes = this.#found === this.#snapshot.size ? [] : deletesOf(incoming, this.#snapshot);
    return { deletes, changes: this.#changes, retimes: this.#retimes };
  }
}

/** Snapshot paths no incoming entry names, parents only. */
function deletesOf(incoming: readonly IncomingEntry[], snapshot: Snapshot): string[] {
  const wanted = new Set<string>();
  for (const entry of incoming) wanted.add(entry.path);
  const deleted = new Set<string>();
  const deletes: string[] = [];
  for (const path of snapshot.keys()) {
    if (wanted.has(path) || hasDeletedAncestor(path, deleted)) continue;
    deleted.add(path);
    deletes.push(path);
  }
  return deletes;
}

function hasDeletedAncestor(path: string, deleted: Set<string>): boolean {
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    if (deleted.has(path.slice(0, i))) return true;
  }
  return false;
}
