/**
 * Asynchronous file calls as promises over `node:fs`'s callback functions. Loading
 * `node:fs/promises` loads about ten more of Node's modules (directory handles,
 * watchers, `readline`), which cost every command that opens the cache ~2.6 ms of its
 * start here, for the same calls on libuv's threads.
 * @module
 */
import { close, fsync, ftruncate, open, readFile, rename, unlink, write } from "node:fs";

type Callback = (err: NodeJS.ErrnoException | null, value?: unknown) => void;

/**
 * Calls the `node:fs` callback function `fn` with `args` and resolves to the value it
 * passes back (rejects with its error).
 *
 * @example
 * ```ts
 * import { readdir } from "node:fs";
 * const names = await promised<string[]>(readdir, "/cache/snapshots");
 * ```
 */
export function promised<T = void>(fn: (...args: never[]) => void, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const done: Callback = (err, value) => (err ? reject(err) : resolve(value as T));
    (fn as (...all: unknown[]) => void)(...args, done);
  });
}

/**
 * Opens `path` (`flags` as `fs.open` takes them) and resolves to the descriptor.
 *
 * @example
 * ```ts
 * const fd = await openFile("/cache/meta/.tmp-1-a.rec", "w", 0o600);
 * ```
 */
export function openFile(path: string, flags: string | number, mode?: number): Promise<number> {
  return promised(open, path, flags, mode);
}

/**
 * Writes all of `data` at the descriptor's position, however many writes it takes.
 *
 * @example
 * ```ts
 * await writeAll(fd, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length; ) {
    done += await promised<number>(write, fd, data, done, data.length - done, null);
  }
}

/**
 * `fsync` of an open descriptor: a file's data, or a directory's entries.
 *
 * @example
 * ```ts
 * await syncFile(fd);
 * ```
 */
export function syncFile(fd: number): Promise<void> {
  return promised(fsync, fd);
}

/**
 * Cuts (or extends) an open file to `length` bytes.
 *
 * @example
 * ```ts
 * await truncateFile(fd, 100);
 * ```
 */
export function truncateFile(fd: number, length: number): Promise<void> {
  return promised(ftruncate, fd, length);
}

/**
 * Closes a descriptor.
 *
 * @example
 * ```ts
 * await closeFile(fd);
 * ```
 */
export function closeFile(fd: number): Promise<void> {
  return promised(close, fd);
}

/**
 * Renames `from` to `to`, replacing what is there.
 *
 * @example
 * ```ts
 * await renamePath("/cache/meta/.tmp-1-a.rec", "/cache/meta/a.rec");
 * ```
 */
export function renamePath(from: string, to: string): Promise<void> {
  return promised(rename, from, to);
}

/**
 * Removes the file at `path`; one that is not there is fine.
 *
 * @example
 * ```ts
 * await removeFile("/cache/meta/a.tree");
 * ```
 */
export function removeFile(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    unlink(path, (err) => (err && err.code !== "ENOENT" ? reject(err) : resolve())),
  );
}

/**
 * The bytes of the file at `path`.
 *
 * @example
 * ```ts
 * const bytes = await readWholeFile("/cache/meta/a.tree");
 * ```
 */
export function readWholeFile(path: string): Promise<Uint8Array> {
  return promised(readFile, path);
}
