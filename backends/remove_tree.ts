/**
 * Removing a snapshot directory without crowding out the rest of the process. Node's
 * recursive `rm` asks for all of a directory's entries at once: on the disk, thousands
 * of unlinks then queue for libuv's four threads, and every other file-system call of
 * the process waits behind them: a push made to a server while its GC removed a
 * 10,000-file snapshot that way took 1.9–2.1 s instead of ~0.25 s. Here only a few
 * calls are in flight at a time, so another call waits for one of them at most.
 * @module
 */
import { errorCode } from "../core/errors.ts";
import type { FileStats, FileSystem } from "../core/file_system.ts";
import { Limiter } from "../core/limiter.ts";
import { joinPath } from "../core/path.ts";

/** Calls in flight at once: libuv's four threads kept busy, with no queue behind them. */
export const REMOVE_IN_FLIGHT = 4;

/**
 * Removes `path` and, when it is a directory, everything below it, its file-system calls
 * run through `limit` (by default one of its own, {@linkcode REMOVE_IN_FLIGHT} calls at
 * once; removals sharing one limiter share its bound). Never follows a symlink (links
 * are unlinked); directories without full access for their owner, as a snapshot of a
 * read-only source has, are opened up first. A missing path is fine.
 *
 * @example
 * ```ts
 * await removeTree(diskFileSystem, "/var/cache/fscache/snapshots/0a1b2c");
 * ```
 */
export async function removeTree(
  fs: FileSystem,
  path: string,
  limit: Limiter = new Limiter(REMOVE_IN_FLIGHT),
): Promise<void> {
  const stats = await orMissing(limit.run(() => fs.lstat(path)));
  if (stats === undefined) return;
  if (stats.isDirectory()) await removeDir(fs, limit, path, stats);
  else await orMissing(limit.run(() => fs.unlink(path)));
}

/** Empties `dir` (files first, a few at once; then its subdirectories, one by one) and removes it. */
async function removeDir(fs: FileSystem, limit: Limiter, dir: string, stats: FileStats): Promise<void> {
  if ((stats.mode & 0o700) !== 0o700) await limit.run(() => fs.chmod(dir, (stats.mode & 0o7777) | 0o700));
  const names = await orMissing(limit.run(() => fs.readdir(dir)));
  if (names === undefined) return;
  const subdirs: [string, FileStats][] = [];
  let next = 0;
  let failed = false;
  // Unlinking first spares an lstat per file; a directory refuses it (EISDIR on Linux,
  // EPERM elsewhere) and is looked at then.
  const unlinkNext = async () => {
    while (!failed && next < names.length) {
      const path = joinPath(dir, names[next++] as string);
      try {
        await limit.run(() => fs.unlink(path));
      } catch (err) {
        if (errorCode(err) === "ENOENT") continue;
        const st = await orMissing(limit.run(() => fs.lstat(path)));
        if (st?.isDirectory()) subdirs.push([path, st]);
        else if (st !== undefined) {
          failed = true;
          throw err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(REMOVE_IN_FLIGHT, names.length) }, unlinkNext));
  for (const [sub, st] of subdirs) await removeDir(fs, limit, sub, st);
  await orMissing(limit.run(() => fs.rmdir(dir)));
}

/** The result, or `undefined` when the path is gone. */
async function orMissing<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw err;
  }
}
