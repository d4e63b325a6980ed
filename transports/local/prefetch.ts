/**
 * Looking up ahead what a resync will touch. A resync learns which files changed while
 * it walks, but copies them only after the walk, one after the other. A walk from the
 * record never looks at the snapshot, so the kernel drops the inodes of snapshot files
 * nobody touched for a while, and the copy's first look at such a file read its inode
 * from the disk (~0.2 ms each here). Started from the walk, those lookups run on libuv's
 * threads, several at once, while the walk goes on.
 *
 * The source files themselves are not read ahead any more: on the benchmark VM that
 * read-ahead saved nothing with their pages dropped (a 1% resync of the small tree
 * 293 ms against 298 ms with it, 40 interleaved runs each) and cost ~20 ms with them in
 * the page cache (280 ms against 300 ms, 60 runs each): its calls ran on the walking
 * thread, and the copy reads each file soon after anyway.
 * @module
 */
import { lstat } from "node:fs";
import { hasLoneSurrogate } from "../../core/names.ts";

/** Lookups in flight at once, at most; later ones are left to the copy. */
const MAX_IN_FLIGHT = 64;

/**
 * A prefetch hook for the walk (`WalkOptions.prefetch`): looks up each changed file's
 * path in `snapshot` (the directory the files are copied to, on the disk) on libuv's
 * threads, so that its inode is in memory when the copy opens it. Errors are ignored:
 * the copy meets them, if they are real.
 *
 * @example
 * ```ts
 * const walker = new TreeWalker(diskFs, "/src/app", { listings, prefetch: diskPrefetcher("/cache/snapshots/ab12") });
 * ```
 */
export function diskPrefetcher(snapshot: string): (path: string) => void {
  let lookups = 0;
  const looked = () => {
    lookups--;
  };
  return (path) => {
    // A name that is not UTF-8 would reach another path as a string: left to the copy.
    if (lookups >= MAX_IN_FLIGHT || hasLoneSurrogate(path)) return;
    lookups++;
    lstat(`${snapshot}/${path}`, looked);
  };
}
