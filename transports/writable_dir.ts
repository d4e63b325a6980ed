/**
 * Writing into a read-only directory of a snapshot. A snapshot copies its source's
 * modes, and a process that is not root cannot make or remove an entry in a 0555
 * directory (root can), so the writers open such a directory when the kernel refuses
 * them, and give it its mode back once their writes are done.
 * @module
 */
import { errorCode } from "../core/errors.ts";
import type { FileStats } from "../core/file_system.ts";

/** The calls {@linkcode inWritableDir} makes besides `op`. */
export interface ModeCalls {
  lstatSync(path: string): FileStats;
  chmodSync(path: string, mode: number): void;
}

/**
 * Runs `op`, which makes or removes the entry `full`. Refused (`EACCES`) because the
 * directory holding it denies its owner writing, it gives the owner full access to that
 * directory (telling `opened` its mode before), and runs `op` again. Setting the mode
 * back is the caller's, once its writes are done.
 *
 * @example
 * ```ts
 * inWritableDir(fs, "/cache/snap/ro/new.txt", () => fs.openSync("/cache/snap/ro/new.txt", "wx"));
 * ```
 */
export function inWritableDir<T>(
  fs: ModeCalls,
  full: string,
  op: () => T,
  opened?: (dir: string, mode: number) => void,
): T {
  try {
    return op();
  } catch (err) {
    if (errorCode(err) !== "EACCES") throw err;
    const dir = full.slice(0, full.lastIndexOf("/")) || "/";
    let st: FileStats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      throw err;
    }
    if (!st.isDirectory() || (st.mode & 0o300) === 0o300) throw err;
    opened?.(dir, st.mode & 0o7777);
    fs.chmodSync(dir, (st.mode & 0o7777) | 0o700);
    return op();
  }
}
