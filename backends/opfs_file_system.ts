/**
 * A {@linkcode FileSystem} on a File System Access API directory handle: the browser's
 * Origin Private File System (`navigator.storage.getDirectory()`), or any handle the
 * user granted. Only the promise methods work: OPFS gives synchronous access only to
 * workers, so the synchronous ones throw and `asyncOnly` tells the core to walk with
 * awaited calls.
 *
 * What a browser directory cannot hold, this reports honestly: there are no modes,
 * owners, symlinks or hard links, and no settable mtimes. Every file reads back with
 * the configured `fileMode`/`uid`/`gid` (mtime: when it was written), every directory
 * with `dirMode`; `chmod` to anything else, `symlink`, `link` and `utimes` fail with
 * `ENOTSUP`.
 * @module
 */
import { FSCacheError } from "../core/errors.ts";
import type { FileStats, FileSystem, MkdirOptions, RmOptions } from "../core/file_system.ts";

/** The parts of `FileSystemWritableFileStream` used here. */
export interface FsaWritable {
  write(data: Uint8Array | Blob | string): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** The parts of `FileSystemFileHandle` used here. */
export interface FsaFileHandle {
  readonly kind: "file";
  readonly name: string;
  getFile(): Promise<Blob & { readonly lastModified: number }>;
  createWritable(options?: { keepExistingData?: boolean }): Promise<FsaWritable>;
}

/** The parts of `FileSystemDirectoryHandle` used here (a real one fits; cast it). */
export interface FsaDirectoryHandle {
  readonly kind: "directory";
  readonly name: string;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<FsaDirectoryHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FsaFileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterableIterator<string>;
  values(): AsyncIterableIterator<FsaDirectoryHandle | FsaFileHandle>;
}

/** What every entry reads back as. */
export interface OpfsStatOptions {
  /** Permission bits of every file. Default `0o644`. */
  fileMode?: number;
  /** Permission bits of every directory. Default `0o755`. */
  dirMode?: number;
  /** Owner ids of every entry. Default 0 (as in a tar made with `--owner=0`). */
  uid?: number;
  gid?: number;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const decoder = new TextDecoder();

class OpfsStats implements FileStats {
  readonly ino = 0;
  readonly dev = 0;
  readonly rdev = 0;
  readonly nlink = 1;
  constructor(
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly mtimeMs: number,
  ) {}
  isFile(): boolean {
    return (this.mode & 0o170000) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & 0o170000) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return false;
  }
}

function fsError(code: string, syscall: string, path: string, cause?: unknown): FSCacheError {
  return new FSCacheError(code, `${code}: ${syscall} ${JSON.stringify(path)}`, { path, cause });
}

/** Maps a DOMException of the File System API to the errno node would raise. */
function translate(err: unknown, syscall: string, path: string): unknown {
  if (err instanceof FSCacheError) return err;
  switch ((err as { name?: unknown } | null)?.name) {
    case "NotFoundError":
      return fsError("ENOENT", syscall, path, err);
    case "TypeMismatchError":
      return fsError("ENOTDIR", syscall, path, err);
    case "InvalidModificationError":
      return fsError("ENOTEMPTY", syscall, path, err);
    case "NoModificationAllowedError":
      return fsError("EBUSY", syscall, path, err);
    default:
      return err;
  }
}

function split(path: string): string[] {
  if (!path.startsWith("/")) throw fsError("ERR_INVALID_PATH", "resolve", path);
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts;
}

const syncUnsupported =
  (name: string) =>
  (..._args: unknown[]): never => {
    throw new FSCacheError("ERR_SYNC_UNSUPPORTED", `${name}() is not available on OPFS outside a worker`);
  };

/**
 * Absolute POSIX paths below a directory handle (`/` is the handle itself).
 *
 * @example
 * ```ts
 * const opfs = new OpfsFileSystem(await navigator.storage.getDirectory() as unknown as FsaDirectoryHandle);
 * await opfs.mkdir("/a", { recursive: true });
 * await opfs.writeFile("/a/b.txt", "hi");
 * (await opfs.lstat("/a/b.txt")).mode; // 0o100644
 * ```
 */
export class OpfsFileSystem implements FileSystem {
  readonly asyncOnly = true;
  readonly #root: FsaDirectoryHandle | Promise<FsaDirectoryHandle>;
  readonly #fileMode: number;
  readonly #dirMode: number;
  readonly #uid: number;
  readonly #gid: number;
  readonly #dirs = new Map<string, Promise<FsaDirectoryHandle>>();

  constructor(root: FsaDirectoryHandle | Promise<FsaDirectoryHandle>, options: OpfsStatOptions = {}) {
    this.#root = root;
    this.#fileMode = (options.fileMode ?? 0o644) & 0o7777;
    this.#dirMode = (options.dirMode ?? 0o755) & 0o7777;
    this.#uid = options.uid ?? 0;
    this.#gid = options.gid ?? 0;
  }

  /**
   * The handle of a directory, from the cache when it was resolved before: each
   * `getDirectoryHandle` is a round trip to the browser's storage process, and a path
   * five levels deep would otherwise cost five of them per call.
   */
  async #dir(parts: string[], syscall: string, path: string, create = false): Promise<FsaDirectoryHandle> {
    if (parts.length === 0) return await this.#root;
    const key = parts.join("/");
    const cached = this.#dirs.get(key);
    if (cached) {
      try {
        return await cached;
      } catch (err) {
        if (!create) throw translate(err, syscall, path);
        // A lookup without `create` failed meanwhile; this call creates the directory.
      }
    }
    const parent = await this.#dir(parts.slice(0, -1), syscall, path, create);
    const pending = parent.getDirectoryHandle(parts[parts.length - 1] as string, { create });
    this.#dirs.set(key, pending);
    try {
      return await pending;
    } catch (err) {
      if (this.#dirs.get(key) === pending) this.#dirs.delete(key);
      throw translate(err, syscall, path);
    }
  }

  /** Forgets cached handles of `path` and everything below it (it is being removed). */
  #forget(path: string): void {
    const key = split(path).join("/");
    for (const k of this.#dirs.keys()) if (key === "" || k === key || k.startsWith(`${key}/`)) this.#dirs.delete(k);
  }

  async #parent(path: string, syscall: string): Promise<[FsaDirectoryHandle, string]> {
    const parts = split(path);
    const name = parts.pop();
    if (name === undefined) throw fsError("EISDIR", syscall, path);
    return [await this.#dir(parts, syscall, path), name];
  }

  async #entry(path: string, syscall: string): Promise<FsaDirectoryHandle | FsaFileHandle> {
    const parts = split(path);
    const name = parts.pop();
    if (name === undefined) return await this.#root;
    const known = this.#dirs.get([...parts, name].join("/"));
    if (known) return await this.#dir([...parts, name], syscall, path);
    const parent = await this.#dir(parts, syscall, path);
    try {
      return await parent.getFileHandle(name);
    } catch (err) {
      if ((err as { name?: unknown })?.name !== "TypeMismatchError") throw translate(err, syscall, path);
    }
    try {
      return await parent.getDirectoryHandle(name);
    } catch (err) {
      throw translate(err, syscall, path);
    }
  }

  async #file(path: string, syscall: string): Promise<FsaFileHandle> {
    const entry = await this.#entry(path, syscall);
    if (entry.kind !== "file") throw fsError("EISDIR", syscall, path);
    return entry;
  }

  readFile(path: string): Promise<Uint8Array>;
  readFile(path: string, encoding: "utf8"): Promise<string>;
  async readFile(path: string, encoding?: "utf8"): Promise<Uint8Array | string> {
    const file = await (await this.#file(path, "open")).getFile();
    const bytes = new Uint8Array(await file.arrayBuffer());
    return encoding === "utf8" ? decoder.decode(bytes) : bytes;
  }

  /** The content of a file as a `Blob`, to stream it (`blob.stream()`) rather than read it whole. */
  async getFile(path: string): Promise<Blob> {
    return await (await this.#file(path, "open")).getFile();
  }

  /** Modes are not kept: the file reads back with `fileMode` whatever `options.mode` says. */
  async writeFile(path: string, data: Uint8Array | string, _options?: { mode?: number }): Promise<void> {
    await this.writeStream(path, async (w) => await w.write(data));
  }

  /**
   * Writes a file through `body`, which may call `write` many times (to stream a large
   * file); the content replaces the old one only when `body` resolves.
   */
  async writeStream(path: string, body: (writable: FsaWritable) => Promise<void>): Promise<void> {
    const [parent, name] = await this.#parent(path, "open");
    let writable: FsaWritable;
    try {
      const handle = await parent.getFileHandle(name, { create: true });
      writable = await handle.createWritable({ keepExistingData: false });
    } catch (err) {
      throw translate(err, "open", path);
    }
    try {
      await body(writable);
    } catch (err) {
      await writable.abort(err).catch(() => undefined);
      throw err;
    }
    await writable.close();
  }

  async mkdir(path: string, options: MkdirOptions = {}): Promise<unknown> {
    const parts = split(path);
    if (options.recursive) {
      await this.#dir(parts, "mkdir", path, true);
      return undefined;
    }
    const [parent, name] = await this.#parent(path, "mkdir");
    if (await this.#has(parent, name)) throw fsError("EEXIST", "mkdir", path);
    await parent.getDirectoryHandle(name, { create: true });
    return undefined;
  }

  async #has(parent: FsaDirectoryHandle, name: string): Promise<boolean> {
    for await (const key of parent.keys()) if (key === name) return true;
    return false;
  }

  async readdir(path: string): Promise<string[]> {
    const entry = await this.#entry(path, "scandir");
    if (entry.kind !== "directory") throw fsError("ENOTDIR", "scandir", path);
    const names: string[] = [];
    for await (const key of entry.keys()) names.push(key);
    return names.sort();
  }

  async lstat(path: string): Promise<FileStats> {
    const entry = await this.#entry(path, "lstat");
    if (entry.kind === "directory") return new OpfsStats(S_IFDIR | this.#dirMode, this.#uid, this.#gid, 0, 0);
    const file = await entry.getFile();
    return new OpfsStats(S_IFREG | this.#fileMode, this.#uid, this.#gid, file.size, file.lastModified);
  }

  stat(path: string): Promise<FileStats> {
    return this.lstat(path); // no symlinks to follow
  }

  async readlink(path: string): Promise<string> {
    await this.#entry(path, "readlink");
    throw fsError("EINVAL", "readlink", path);
  }

  async symlink(_target: string, path: string): Promise<void> {
    throw fsError("ENOTSUP", "symlink", path);
  }

  async link(_existing: string, path: string): Promise<void> {
    throw fsError("ENOTSUP", "link", path);
  }

  async utimes(path: string): Promise<void> {
    throw fsError("ENOTSUP", "utimes", path);
  }

  async chmod(path: string, mode: number): Promise<void> {
    const entry = await this.#entry(path, "chmod");
    const kept = entry.kind === "directory" ? this.#dirMode : this.#fileMode;
    if ((mode & 0o7777) !== kept) throw fsError("ENOTSUP", "chmod", path);
  }

  async unlink(path: string): Promise<void> {
    const [parent, name] = await this.#parent(path, "unlink");
    const entry = await this.#entry(path, "unlink");
    if (entry.kind === "directory") throw fsError("EISDIR", "unlink", path);
    await this.#remove(parent, name, false, "unlink", path);
  }

  async rmdir(path: string): Promise<void> {
    const [parent, name] = await this.#parent(path, "rmdir");
    const entry = await this.#entry(path, "rmdir");
    if (entry.kind !== "directory") throw fsError("ENOTDIR", "rmdir", path);
    await this.#remove(parent, name, false, "rmdir", path);
  }

  async rm(path: string, options: RmOptions = {}): Promise<void> {
    let entry: FsaDirectoryHandle | FsaFileHandle;
    try {
      entry = await this.#entry(path, "rm");
    } catch (err) {
      if (options.force && (err as { code?: unknown }).code === "ENOENT") return;
      throw err;
    }
    if (entry.kind === "directory" && !options.recursive) throw fsError("EISDIR", "rm", path);
    const [parent, name] = await this.#parent(path, "rm");
    await this.#remove(parent, name, entry.kind === "directory", "rm", path);
  }

  async #remove(
    parent: FsaDirectoryHandle,
    name: string,
    recursive: boolean,
    syscall: string,
    path: string,
  ): Promise<void> {
    this.#forget(path);
    try {
      await parent.removeEntry(name, { recursive });
    } catch (err) {
      throw translate(err, syscall, path);
    }
  }

  /** Not atomic: OPFS has no portable move, so content is copied, then the source removed. */
  async rename(from: string, to: string): Promise<void> {
    const entry = await this.#entry(from, "rename");
    if (entry.kind === "file") {
      await this.copyFile(from, to);
    } else {
      await this.rm(to, { recursive: true, force: true });
      await this.#copyTree(from, to);
    }
    await this.rm(from, { recursive: true });
  }

  async #copyTree(from: string, to: string): Promise<void> {
    await this.mkdir(to);
    for (const name of await this.readdir(from)) {
      const src = `${from}/${name}`;
      const dst = `${to}/${name}`;
      if ((await this.#entry(src, "rename")).kind === "directory") await this.#copyTree(src, dst);
      else await this.copyFile(src, dst);
    }
  }

  async copyFile(from: string, to: string): Promise<void> {
    const file = await (await this.#file(from, "copyfile")).getFile();
    const content = new Uint8Array(await file.arrayBuffer());
    await this.writeStream(to, async (w) => await w.write(content));
  }

  readFileSync: (...args: unknown[]) => never = syncUnsupported("readFileSync");
  writeFileSync: (...args: unknown[]) => never = syncUnsupported("writeFileSync");
  mkdirSync: (...args: unknown[]) => never = syncUnsupported("mkdirSync");
  readdirSync: (...args: unknown[]) => never = syncUnsupported("readdirSync");
  lstatSync: (...args: unknown[]) => never = syncUnsupported("lstatSync");
  statSync: (...args: unknown[]) => never = syncUnsupported("statSync");
  readlinkSync: (...args: unknown[]) => never = syncUnsupported("readlinkSync");
  symlinkSync: (...args: unknown[]) => never = syncUnsupported("symlinkSync");
  unlinkSync: (...args: unknown[]) => never = syncUnsupported("unlinkSync");
  rmSync: (...args: unknown[]) => never = syncUnsupported("rmSync");
  renameSync: (...args: unknown[]) => never = syncUnsupported("renameSync");
  chmodSync: (...args: unknown[]) => never = syncUnsupported("chmodSync");
  utimesSync: (...args: unknown[]) => never = syncUnsupported("utimesSync");
  copyFileSync: (...args: unknown[]) => never = syncUnsupported("copyFileSync");
  linkSync: (...args: unknown[]) => never = syncUnsupported("linkSync");
  existsSync: (...args: unknown[]) => never = syncUnsupported("existsSync");
  openSync: (...args: unknown[]) => never = syncUnsupported("openSync");
  readSync: (...args: unknown[]) => never = syncUnsupported("readSync");
  writeSync: (...args: unknown[]) => never = syncUnsupported("writeSync");
  fsyncSync: (...args: unknown[]) => never = syncUnsupported("fsyncSync");
  closeSync: (...args: unknown[]) => never = syncUnsupported("closeSync");
}
