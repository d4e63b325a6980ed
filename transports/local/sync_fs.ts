/**
 * The synchronous file-system calls the local transport's hot loops make. `node:fs`
 * and a `memfs` `Volume` both provide them, so the same walk/diff/apply code runs
 * inside worker threads over the disk and inline over memory.
 * @module
 */
import { errorCode, isGone } from "../../core/errors.ts";
import type { FileStats } from "../../core/file_system.ts";
import { inWritableDir } from "../writable_dir.ts";

/**
 * What the walk and apply loops call. `lutimesSync`/`lchownSync` are optional: where
 * the file system lacks them, symlink mtimes and owners are left as created. The
 * descriptor calls (`fchmodSync`, `fchownSync`) are optional too: they only spare
 * resolving a copied file's path again, and the path calls stand in; so is
 * `fstatSync`, without which a new file's mode and owner are set whatever they are.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * const disk: SyncFs = fs;
 * ```
 */
export interface SyncFs {
  readdirSync(path: string): string[];
  lstatSync(path: string): FileStats;
  statSync(path: string): FileStats;
  readlinkSync(path: string): string;
  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number }): unknown;
  chmodSync(path: string, mode: number): void;
  utimesSync(path: string, atime: number | Date, mtime: number | Date): void;
  lutimesSync?(path: string, atime: number | Date, mtime: number | Date): void;
  lchownSync?(path: string, uid: number, gid: number): void;
  symlinkSync(target: string, path: string): void;
  rmdirSync(path: string): void;
  unlinkSync(path: string): void;
  openSync(path: string, flags: string, mode?: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  closeSync(fd: number): void;
  fchmodSync?(fd: number, mode: number): void;
  fchownSync?(fd: number, uid: number, gid: number): void;
  ftruncateSync?(fd: number, length?: number): void;
  fstatSync?(fd: number): { blocks?: number; mode: number; uid: number; gid: number };
  /**
   * `lstat` as numbers: mode, uid, gid, size and `mtimeMs` written into `out` from `at`,
   * exactly as `lstatSync` gives them; false, with nothing written, for a missing path.
   * Optional (the disk's `diskFs` has it): the walk then stores them without a stat
   * object. A wrapper that changes `lstatSync` must leave it out.
   */
  lstatInto?(path: string, out: Float64Array, at: number): boolean;
}

/** `lstat` that answers `undefined` for a missing path instead of throwing. */
export function lstatOrUndefined(fs: SyncFs, path: string): FileStats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/**
 * Removes `path` (with everything below it when it is a directory); a missing path is
 * fine. Anything but a directory is unlinked, never handed to `rmSync`: memfs's
 * `rmSync` on a symlink deletes what the link points to (a file elsewhere in the
 * snapshot, or outside it) and leaves the link. `stats` is the path's `lstat`, when known.
 *
 * @example
 * ```ts
 * removeEntry(fs, "/cache/snap/old-link");
 * ```
 */
export function removeEntry(fs: SyncFs, path: string, stats: FileStats | undefined = lstatOrUndefined(fs, path)): void {
  if (!stats) return;
  if (stats.isDirectory()) {
    removeTree(fs, path, stats);
    return;
  }
  inWritableDir(fs, path, () => {
    try {
      fs.unlinkSync(path);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
  });
}

/**
 * Removes the directory `root` and everything below it, depth first with a stack of its
 * own (Node 20's recursive `rmSync` overflows the call stack some 1,500 levels down),
 * making each directory it empties writable first: a snapshot keeps its source's
 * read-only directories, which a process that is not root could not empty otherwise.
 */
function removeTree(fs: SyncFs, root: string, stats: FileStats): void {
  const stack = [root];
  const opened = (dir: string, mode: number) => {
    if ((mode & 0o700) !== 0o700) fs.chmodSync(dir, (mode & 0o7777) | 0o700);
  };
  opened(root, stats.mode);
  while (stack.length > 0) {
    const dir = stack[stack.length - 1] as string;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
      stack.pop();
      continue;
    }
    let deeper = false;
    for (const name of names) {
      const path = `${dir}/${name}`;
      const st = lstatOrUndefined(fs, path);
      if (!st) continue;
      if (st.isDirectory()) {
        opened(path, st.mode);
        stack.push(path);
        deeper = true;
      } else {
        try {
          fs.unlinkSync(path);
        } catch (err) {
          if (errorCode(err) !== "ENOENT") throw err;
        }
      }
    }
    if (deeper) continue; // emptied once its subdirectories are gone
    stack.pop();
    inWritableDir(fs, dir, () => {
      try {
        fs.rmdirSync(dir);
      } catch (err) {
        if (errorCode(err) !== "ENOENT") throw err;
      }
    });
  }
}
