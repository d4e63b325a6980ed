/**
 * Directory times after a receive (diff-copy or tar): creating, replacing or removing an
 * entry changes its directory's mtime, so the directories a receive touched get their
 * sender's mtime back once everything below them is written.
 * @module
 */
import { fileTime } from "../file_time.ts";
import type { ChangePlan } from "./diff.ts";
import type { SafeTree } from "./safe_tree.ts";
import type { IncomingEntry } from "./stat_validator.ts";

/**
 * The directories whose mtime a receive may change: those it updates or only retimes, and
 * the parents of everything it creates, replaces or removes. The others keep theirs untouched.
 *
 * @example
 * ```ts
 * restoreDirTimes(tree, incoming, touchedDirs(plan));
 * ```
 */
export function touchedDirs(plan: ChangePlan): Set<string> {
  const out = new Set<string>();
  const parent = (path: string) => {
    const slash = path.lastIndexOf("/");
    if (slash !== -1) out.add(path.slice(0, slash));
  };
  for (const path of plan.retimes) out.add(path);
  for (const path of plan.deletes) parent(path);
  for (const { entry } of plan.changes) {
    parent(entry.path);
    if (entry.kind === "dir") out.add(entry.path);
  }
  return out;
}

/**
 * Sets each `touched` directory's mode and mtime as `incoming` has them, deepest first.
 * Call it last: after every write below them, and after `tree.finishModes()`.
 *
 * @example
 * ```ts
 * tree.finishModes();
 * restoreDirTimes(tree, incoming, touchedDirs(plan));
 * ```
 */
export function restoreDirTimes(tree: SafeTree, incoming: readonly IncomingEntry[], touched: Set<string>): void {
  for (let i = incoming.length - 1; i >= 0 && touched.size > 0; i--) {
    const entry = incoming[i] as IncomingEntry;
    if (entry.kind !== "dir" || !touched.delete(entry.path)) continue;
    const time = fileTime(entry.stat.modTime);
    tree.assertParents(entry.path);
    const st = tree.lstat(entry.path);
    if (!st?.isDirectory()) continue;
    // The mode too: a writer thread may have opened a read-only directory to write in it.
    // Only where it differs: a chmod journals a change of the inode, one per directory.
    if ((st.mode & 0o7777) !== (entry.mode & 0o7777)) tree.fs.chmodSync(tree.full(entry.path), entry.mode & 0o7777);
    tree.fs.utimesSync(tree.full(entry.path), time, time);
  }
}
