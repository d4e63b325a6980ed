/**
 * The file-system shape fscache works on: the subset of node's `fs` module the
 * project uses, both its promise methods (public API, transports) and its
 * synchronous ones (hot loops, where one awaited call costs ~50 µs). `node:fs`
 * and a `memfs` `Volume` both provide it through {@linkcode fileSystemFrom}.
 *
 * Paths are POSIX strings. Byte buffers are `Uint8Array` (node's `Buffer` is one).
 * @module
 */

/** What `lstat`/`stat` return; node's and memfs's `Stats` both fit. */
export interface FileStats {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  /**
   * Status-change time, where the file system keeps one as POSIX says (any change of a
   * directory's entries moves it, and no call sets it back). Optional: without it, a
   * walk reads every directory.
   */
  ctimeMs?: number;
  ino: number;
  dev: number;
  rdev: number;
  nlink: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** Options for `mkdir`. */
export interface MkdirOptions {
  recursive?: boolean;
  mode?: number;
}

/** Options for `rm`. */
export interface RmOptions {
  recursive?: boolean;
  force?: boolean;
}

/** The file-system API used by backends, transports and the checksum code. */
export interface FileSystem {
  /**
   * True when the synchronous methods throw: a browser's OPFS offers synchronous access
   * only inside workers. The inline scanner and the snapshot size then walk with the
   * promise methods instead (slower, but the only way on a page's main thread).
   */
  readonly asyncOnly?: boolean;
  readFile(path: string): Promise<Uint8Array>;
  readFile(path: string, encoding: "utf8"): Promise<string>;
  writeFile(path: string, data: Uint8Array | string, options?: { mode?: number }): Promise<void>;
  mkdir(path: string, options?: MkdirOptions): Promise<unknown>;
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<FileStats>;
  stat(path: string): Promise<FileStats>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  rm(path: string, options?: RmOptions): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  utimes(path: string, atime: number | Date, mtime: number | Date): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;

  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array | string, options?: { mode?: number }): void;
  mkdirSync(path: string, options?: MkdirOptions): unknown;
  readdirSync(path: string): string[];
  lstatSync(path: string): FileStats;
  statSync(path: string): FileStats;
  readlinkSync(path: string): string;
  symlinkSync(target: string, path: string): void;
  unlinkSync(path: string): void;
  rmSync(path: string, options?: RmOptions): void;
  renameSync(from: string, to: string): void;
  chmodSync(path: string, mode: number): void;
  utimesSync(path: string, atime: number | Date, mtime: number | Date): void;
  copyFileSync(from: string, to: string): void;
  linkSync(existing: string, path: string): void;
  existsSync(path: string): boolean;
  openSync(path: string, flags: string, mode?: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
}

const promiseMethods = [
  "readFile",
  "writeFile",
  "mkdir",
  "readdir",
  "lstat",
  "stat",
  "readlink",
  "symlink",
  "unlink",
  "rmdir",
  "rm",
  "rename",
  "chmod",
  "utimes",
  "copyFile",
  "link",
] as const;

const syncMethods = [
  "readFileSync",
  "writeFileSync",
  "mkdirSync",
  "readdirSync",
  "lstatSync",
  "statSync",
  "readlinkSync",
  "symlinkSync",
  "unlinkSync",
  "rmSync",
  "renameSync",
  "chmodSync",
  "utimesSync",
  "copyFileSync",
  "linkSync",
  "existsSync",
  "openSync",
  "readSync",
  "writeSync",
  "fsyncSync",
  "closeSync",
] as const;

/** Anything shaped like node's `fs` module: sync methods plus a `promises` namespace. */
export interface NodeStyleFs {
  promises: object;
}

/**
 * Adapts a node-style `fs` module (`node:fs`, a `memfs` `Volume`) to {@linkcode FileSystem}.
 * Methods are bound once here so hot loops call them without lookups through `promises`.
 * For the real disk prefer `diskFileSystem` (`backends/disk_fs.ts`): `node:fs` given
 * strings reaches a name that is not UTF-8 as U+FFFD, that is, not at all.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * import { Volume } from "memfs";
 * const disk = fileSystemFrom(fs);
 * const memory = fileSystemFrom(new Volume());
 * ```
 */
export function fileSystemFrom(fs: NodeStyleFs): FileSystem {
  const out: Record<string, unknown> = {};
  const promises = fs.promises as Record<string, unknown>;
  for (const name of promiseMethods) out[name] = bindMethod(promises, name);
  for (const name of syncMethods) out[name] = bindMethod(fs as unknown as Record<string, unknown>, name);
  const adapted = out as unknown as FileSystem;
  adaptedModules.set(adapted, fs);
  return adapted;
}

const adaptedModules = new WeakMap<FileSystem, NodeStyleFs>();

/**
 * The module a {@linkcode FileSystem} made by {@linkcode fileSystemFrom} adapts, so
 * runtime code can tell the real disk (`node:fs`) from memory, or reach calls the
 * interface leaves out (`lutimesSync`). `undefined` for other implementations.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * nodeStyleModuleOf(fileSystemFrom(fs)) === fs; // true
 * ```
 */
export function nodeStyleModuleOf(fs: FileSystem): NodeStyleFs | undefined {
  return adaptedModules.get(fs);
}

function bindMethod(owner: Record<string, unknown>, name: string): unknown {
  const method = owner[name];
  if (typeof method !== "function") throw new TypeError(`file system has no ${name}() method`);
  return method.bind(owner);
}
