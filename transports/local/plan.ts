/**
 * Change detection of the local transport: compares a walked source tree with the
 * snapshot's recorded state (no walk of the snapshot) or, when there is none, with a
 * walk of the snapshot. Entries equal in type, mode, size, mtime, link target (and
 * owner when running as root) are left alone.
 * @module
 */
import type { RecordedTree } from "../../core/types.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, STAT_FIELDS, type WalkResult } from "./walk.ts";

/** One source entry to write, by its index in the source {@linkcode WalkResult}. */
export interface PlannedEntry {
  index: number;
  kind: "add" | "modify";
}

/** What a sync must do to the snapshot, in the order it must do it. */
export interface Plan {
  /** Top-most snapshot paths to remove (a directory goes with its subtree). */
  deletes: string[];
  /** Directories to create or update, parents first. */
  dirs: PlannedEntry[];
  /** Regular files and symlinks to write. */
  files: PlannedEntry[];
  /** Source directories whose mode and mtime to set at the end, children first. */
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

/** The state a source tree is compared with. */
interface Baseline {
  size: number;
  get(path: string): BaselineEntry | undefined;
  paths(): Iterable<string>;
}

interface BaselineEntry {
  /** Absent when the recorded entry has no stat: then it is rewritten. */
  stat?: { mode: number; uid: number; gid: number; size: number; mtimeMs: number; linkname?: string };
}

/**
 * Plans a sync against the recorded tree of the last successful sync.
 *
 * @example
 * ```ts
 * const plan = planAgainstRecord(walkTree(fs, src), previous, { owners: false, mtimeSlack: 0, linkTimes: true });
 * ```
 */
export function planAgainstRecord(source: WalkResult, previous: RecordedTree, options: CompareOptions): Plan {
  return plan(
    source,
    {
      size: previous.size,
      get: (path) => previous.get(path),
      *paths() {
        for (const [path] of previous.entries()) yield path;
      },
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
  const index = new Map<string, number>();
  for (let i = 0; i < dest.paths.length; i++) index.set(dest.paths[i] as string, i);
  return plan(
    source,
    {
      size: dest.paths.length,
      get(path) {
        const i = index.get(path);
        if (i === undefined) return undefined;
        const s = dest.stats;
        const o = i * STAT_FIELDS;
        return {
          stat: {
            mode: s[o] as number,
            uid: s[o + 1] as number,
            gid: s[o + 2] as number,
            size: s[o + 3] as number,
            mtimeMs: s[o + 4] as number,
            linkname: dest.links[i],
          },
        };
      },
      paths: () => dest.paths,
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
  const touchParent = (path: string) => {
    const slash = path.lastIndexOf("/");
    if (slash === -1) return;
    const parent = dirIndex.get(path.slice(0, slash));
    if (parent !== undefined) touchedDirs.add(parent);
  };
  let matched = 0;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i] as string;
    const o = i * STAT_FIELDS;
    const mode = stats[o] as number;
    const type = mode & S_IFMT;
    if (type === S_IFDIR) dirIndex.set(path, i);
    const base = baseline.get(path);
    let kind: PlannedEntry["kind"] = "add";
    if (base) {
      matched++;
      const had = base.stat;
      if (had && (had.mode & S_IFMT) !== type) {
        // A change of kind: remove the old entry (and its subtree) before writing the new one.
        out.deletes.push(path);
        removed.add(path);
      } else if (had && equal(stats, o, links[i] as string, had, options)) {
        out.unchanged++;
        continue;
      } else kind = "modify";
    }
    const entry = { index: i, kind };
    if (type === S_IFDIR) {
      out.dirs.push(entry);
      touchedDirs.add(i);
    } else out.files.push(entry);
    // A written file or symlink may replace the old entry (a symlink always does), which
    // moves its directory's mtime: the directory's mtime is set again at the end.
    if (kind === "add" || type !== S_IFDIR) touchParent(path);
  }
  if (matched < baseline.size) {
    const present = new Set(paths);
    for (const path of baseline.paths()) {
      if (present.has(path) || underRemoved(path, removed)) continue;
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
  had: NonNullable<BaselineEntry["stat"]>,
  options: CompareOptions,
): boolean {
  const mode = stats[o] as number;
  const type = mode & S_IFMT;
  if (options.owners && (had.uid !== stats[o + 1] || had.gid !== stats[o + 2])) return false;
  if (type === S_IFLNK) {
    if ((had.linkname ?? "") !== link) return false;
    return !options.linkTimes || Math.abs(had.mtimeMs - (stats[o + 4] as number)) <= options.mtimeSlack;
  }
  if ((had.mode & 0o7777) !== (mode & 0o7777)) return false;
  if (type === S_IFREG && had.size !== stats[o + 3]) return false;
  return Math.abs(had.mtimeMs - (stats[o + 4] as number)) <= options.mtimeSlack;
}

/** True when an ancestor of `path` is already being removed. */
function underRemoved(path: string, removed: Set<string>): boolean {
  if (removed.size === 0) return false;
  for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
    if (removed.has(path.slice(0, slash))) return true;
  }
  return false;
}
