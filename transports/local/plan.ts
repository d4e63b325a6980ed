/**
 * Change detection of the local transport: compares a walked source tree with the
 * snapshot's recorded state (no walk of the snapshot) or, when there is none, with a
 * walk of the snapshot. Entries equal in type, mode, size, mtime, link target (and
 * owner when running as root) are left alone.
 * @module
 */
import { LISTING_KEY_AT, RecordedTable } from "../../core/recorded_table.ts";
import type { RecordedTree } from "../../core/types.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, STAT_FIELDS, type WalkResult } from "./walk.ts";

/** One source entry to write, by its index in the source {@linkcode WalkResult}. */
export interface PlannedEntry {
  index: number;
  kind: "add" | "modify";
  /**
   * For a regular file that replaces one: its directory (source index), whose mtime is
   * set again at the end only if the file could not be rewritten in place.
   */
  parent?: number;
  /**
   * An unchanged directory recorded again only for its new listing key (see
   * `recorded_listings.ts`): not counted as modified, its snapshot directory left as it is.
   */
  keyOnly?: boolean;
}

/** What a sync must do to the snapshot, in the order it must do it. */
export interface Plan {
  /** Top-most snapshot paths to remove (a directory goes with its subtree). */
  deletes: string[];
  /** Directories to create or update, parents first. */
  dirs: PlannedEntry[];
  /** Regular files and symlinks to write. */
  files: PlannedEntry[];
  /**
   * Source directories whose mode and mtime to set at the end, children first. The
   * apply step adds the `parent` of each file it could not rewrite in place.
   */
  metaDirs: number[];
  /** Source entries left alone. */
  unchanged: number;
}

/** How the comparison treats what the file system may not keep. */
export interface CompareOptions {
  /** Compare owners too (only root can restore them). */
  owners: boolean;
  /**
   * Largest mtime difference still "equal", in ms. 0 against a recorded source stat;
   * against the snapshot itself, what the destination's timestamps can round away.
   */
  mtimeSlack: number;
  /** Compare symlink mtimes (only where the destination can set them). */
  linkTimes: boolean;
}

/**
 * The state a source tree is compared with, in columns: paths in walk order and
 * {@linkcode STAT_FIELDS} numbers per entry (`NaN` mode: recorded without a stat, so
 * rewritten).
 */
interface Baseline {
  paths: readonly string[];
  stats: Float64Array;
  /** Symlink target of entry `i` (`""` when none). */
  link(i: number): string;
  /** Index of `path`, or -1 (only asked when the entries stop lining up). */
  indexOf(path: string): number;
  /** The stats hold the listing keys the source was recorded with (a record, not a walk of the snapshot). */
  keyed: boolean;
}

/**
 * Plans a sync against the recorded tree of the last successful sync. The source walk
 * and the record are both in walk order, so entries are matched by position and a
 * lookup is needed only where they stop lining up.
 *
 * @example
 * ```ts
 * const plan = planAgainstRecord(walkTree(fs, src), previous, { owners: false, mtimeSlack: 0, linkTimes: true });
 * ```
 */
export function planAgainstRecord(source: WalkResult, previous: RecordedTree, options: CompareOptions): Plan {
  const table = RecordedTable.from(previous);
  return plan(
    source,
    {
      paths: table.paths,
      stats: table.stats,
      link: (i) => table.links.get(i) ?? "",
      indexOf: (path) => table.indexOf(path),
      keyed: true,
    },
    options,
  );
}

/**
 * Plans a sync against a walk of the snapshot itself (new or stale snapshots).
 *
 * @example
 * ```ts
 * const plan = planAgainstWalk(walkTree(fs, src), walkTree(fs, dest), { owners: false, mtimeSlack: 1, linkTimes: true });
 * ```
 */
export function planAgainstWalk(source: WalkResult, dest: WalkResult, options: CompareOptions): Plan {
  let index: Map<string, number> | undefined;
  return plan(
    source,
    {
      paths: dest.paths,
      stats: dest.stats,
      link: (i) => dest.links[i] as string,
      indexOf(path) {
        if (!index) {
          index = new Map();
          for (let i = 0; i < dest.paths.length; i++) index.set(dest.paths[i] as string, i);
        }
        return index.get(path) ?? -1;
      },
      keyed: false,
    },
    options,
  );
}

function plan(source: WalkResult, baseline: Baseline, options: CompareOptions): Plan {
  const { paths, stats, links } = source;
  const out: Plan = { deletes: [], dirs: [], files: [], metaDirs: [], unchanged: 0 };
  const dirIndex = new Map<string, number>();
  const removed = new Set<string>();
  const touchedDirs = new Set<number>();
  const parentOf = (path: string) => {
    const slash = path.lastIndexOf("/");
    return slash === -1 ? undefined : dirIndex.get(path.slice(0, slash));
  };
  const touchParent = (path: string) => {
    const parent = parentOf(path);
    if (parent !== undefined) touchedDirs.add(parent);
  };
  const had = baseline.stats;
  const recorded = baseline.paths;
  const owners = options.owners;
  const seen = new Uint8Array(recorded.length);
  let matched = 0;
  let cursor = 0;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i] as string;
    const o = i * STAT_FIELDS;
    const mode = stats[o] as number;
    const type = mode & S_IFMT;
    if (type === S_IFDIR) dirIndex.set(path, i);
    const j = recorded[cursor] === path ? cursor : baseline.indexOf(path);
    let kind: PlannedEntry["kind"] = "add";
    if (j >= 0) {
      cursor = j + 1;
      seen[j] = 1;
      matched++;
      const h = j * STAT_FIELDS;
      const hadMode = had[h] as number;
      // Most entries of a resync: a regular file exactly as recorded (mode, size, mtime,
      // and owner where it counts), settled without a call. This loop runs once per
      // sync, on cold code: each call and check per entry showed in a 10k-file resync.
      if (
        type === S_IFREG &&
        hadMode === mode &&
        had[h + 3] === stats[o + 3] &&
        had[h + 4] === stats[o + 4] &&
        (!owners || (had[h + 1] === stats[o + 1] && had[h + 2] === stats[o + 2]))
      ) {
        out.unchanged++;
        continue;
      }
      if (!Number.isNaN(hadMode) && (hadMode & S_IFMT) !== type) {
        // A change of kind: remove the old entry (and its subtree) before writing the new one.
        out.deletes.push(path);
        removed.add(path);
      } else if (!Number.isNaN(hadMode) && equal(stats, o, links[i] as string, baseline, j, options)) {
        out.unchanged++;
        const key = stats[o + LISTING_KEY_AT] as number;
        // A directory whose key moved since (it was recorded too soon after a change to
        // get one, or its ctime moved alone) is recorded again, so the next walk can skip
        // reading it.
        if (type === S_IFDIR && baseline.keyed && !Number.isNaN(key) && key !== had[h + LISTING_KEY_AT]) {
          out.dirs.push({ index: i, kind: "modify", keyOnly: true });
        }
        continue;
      } else kind = "modify";
    }
    const entry: PlannedEntry = { index: i, kind };
    if (type === S_IFDIR) {
      out.dirs.push(entry);
      touchedDirs.add(i);
    } else out.files.push(entry);
    // Adding an entry, or replacing one (a symlink always is), moves its directory's
    // mtime: the directory's mtime is set again at the end. A regular file rewritten
    // in place leaves it alone, and the copy tells whether it was.
    if (kind === "modify" && type === S_IFREG) {
      const parent = parentOf(path);
      if (parent !== undefined) entry.parent = parent;
    } else if (kind === "add" || type !== S_IFDIR) touchParent(path);
  }
  if (matched < recorded.length) {
    for (let j = 0; j < recorded.length; j++) {
      const path = recorded[j] as string;
      if (seen[j] === 1 || underRemoved(path, removed)) continue;
      out.deletes.push(path);
      removed.add(path);
      touchParent(path);
    }
  }
  out.metaDirs = [...touchedDirs].sort((a, b) => b - a);
  return out;
}

function equal(
  stats: Float64Array,
  o: number,
  link: string,
  baseline: Baseline,
  j: number,
  options: CompareOptions,
): boolean {
  const had = baseline.stats;
  const h = j * STAT_FIELDS;
  const mode = stats[o] as number;
  const type = mode & S_IFMT;
  if (options.owners && (had[h + 1] !== stats[o + 1] || had[h + 2] !== stats[o + 2])) return false;
  if (type === S_IFLNK) {
    if (baseline.link(j) !== link) return false;
    return !options.linkTimes || sameMtime(had[h + 4] as number, stats[o + 4] as number, options.mtimeSlack);
  }
  if (((had[h] as number) & 0o7777) !== (mode & 0o7777)) return false;
  if (type === S_IFREG && had[h + 3] !== stats[o + 3]) return false;
  return sameMtime(had[h + 4] as number, stats[o + 4] as number, options.mtimeSlack);
}

/**
 * Mtimes (ms) within `slack` of each other, or in the same millisecond when one of them
 * has whole milliseconds only: Deno's `node:fs` reads mtimes to the millisecond where
 * Node reads them to the nanosecond, and a source recorded by one runtime must not look
 * all modified to the other. On Deno alone this changes nothing (two whole-ms times are
 * equal or a millisecond apart); on Node it is looser only for a file whose recorded mtime
 * was a whole millisecond (set so on purpose: `touch -d`, an archive) and that changed,
 * size and all, within that same millisecond.
 */
function sameMtime(had: number, now: number, slack: number): boolean {
  const apart = Math.abs(had - now);
  if (apart <= slack) return true;
  if (apart >= 1) return false;
  return Number.isInteger(had) ? Math.floor(now) === had : Number.isInteger(now) && Math.floor(had) === now;
}

/** True when an ancestor of `path` is already being removed. */
function underRemoved(path: string, removed: Set<string>): boolean {
  if (removed.size === 0) return false;
  for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
    if (removed.has(path.slice(0, slash))) return true;
  }
  return false;
}
