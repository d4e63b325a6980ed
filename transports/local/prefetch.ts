/**
 * Reading ahead what a resync will touch. A resync learns which files changed while it
 * walks, but copies them only after the walk, one after the other; a file whose pages
 * are not in the page cache then costs the copy a wait on the disk, and so does the
 * snapshot's copy of it: a walk from the record never looks at the snapshot, so the
 * inodes of files not changed for a while are read from the disk again when the copy
 * opens them (~0.2 ms each here, after the kernel dropped them). Started from the walk,
 * those reads run on libuv's threads, several at once, while the walk goes on — as
 * rsync's sender reads files while its generator is still walking.
 * @module
 */
import * as nodeFs from "node:fs";
import { hasLoneSurrogate } from "../../core/names.ts";

/** Files being read ahead at once, at most; later ones are left to the copy. */
const MAX_IN_FLIGHT = 64;
/** Bytes read ahead from a file's start: the kernel's own readahead follows the copy's reads. */
const AHEAD = 256 * 1024;

/**
 * A prefetch hook for the walk (`WalkOptions.prefetch`): reads the start of each file
 * it is given on libuv's threads, into a buffer nobody reads (only the page cache
 * matters), and with `snapshot` (the directory the files are copied to, on the disk)
 * looks up the file's path there too, so that its inode is in memory when the copy
 * opens it. Errors are ignored: the copy meets them, if they are real.
 *
 * @example
 * ```ts
 * const walker = new TreeWalker(diskFs, "/src/app", { listings, prefetch: diskPrefetcher("/cache/snapshots/ab12") });
 * ```
 */
export function diskPrefetcher(snapshot?: string): (path: string, abs: string, size: number) => void {
  let inFlight = 0;
  let lookups = 0;
  const scratch = new Uint8Array(AHEAD);
  // Never wait on a fifo that took a file's place since its lstat.
  const flags = nodeFs.constants.O_RDONLY | (nodeFs.constants.O_NONBLOCK ?? 0);
  const looked = () => {
    lookups--;
  };
  return (path, abs, size) => {
    // A name that is not UTF-8 would reach another path as a string: left to the copy.
    if (hasLoneSurrogate(abs)) return;
    if (snapshot !== undefined && lookups < MAX_IN_FLIGHT) {
      lookups++;
      nodeFs.lstat(`${snapshot}/${path}`, looked);
    }
    if (inFlight >= MAX_IN_FLIGHT || size === 0) return;
    let fd: number;
    try {
      fd = nodeFs.openSync(abs, flags);
    } catch {
      return;
    }
    inFlight++;
    nodeFs.read(fd, scratch, 0, Math.min(size, AHEAD), 0, () => {
      inFlight--;
      nodeFs.close(fd, () => undefined);
    });
  };
}
