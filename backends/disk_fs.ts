/**
 * `node:fs` for trees whose names need not be UTF-8. Inside fscache a name's bytes
 * travel escaped in a string (`core/names.ts`); `node:fs` would turn such a string into
 * UTF-8 (every escape a U+FFFD) and so reach another file, or none. Here a path that
 * holds escapes goes to `node:fs` as its bytes, and names and link targets read back
 * that are not UTF-8 come out escaped. Ordinary paths pass unchanged: the only cost on
 * the hot path is a check that is constant-time for a one-byte string.
 * @module
 */
import { Buffer } from "node:buffer";
import * as nodeFs from "node:fs";
import { FSCacheError } from "../core/errors.ts";
import {
  type FileStats,
  type FileSystem,
  fileSystemFrom,
  type MkdirOptions,
  type RmOptions,
} from "../core/file_system.ts";
import { decodeName, encodeName, hasLoneSurrogate } from "../core/names.ts";
import { promised } from "./_fs_callbacks.ts";
import { closeSync, openSync, readSync } from "./node_file_io.ts";
import { fstatSync, lstatInto, lstatSync } from "./node_lstat.ts";

/** What `node:fs` lists in place of bytes that are not UTF-8 when it reads names as text. */
const REPLACEMENT = "\ufffd";
/**
 * Deno's `node:fs` (2.x) turns byte paths and byte listings into text (U+FFFD), so there
 * a name that is not UTF-8 can be neither reached nor made: failing is better than
 * writing or skipping the wrong name.
 */
const bytePaths = !("Deno" in globalThis);

/**
 * What to hand `node:fs` for `path`: the string itself, or its bytes when it holds
 * escaped bytes (typed as a string: every `node:fs` call takes both).
 *
 * @example
 * ```ts
 * nodeFs.lstatSync(diskPath("/src/a\udcff")); // lstat of the bytes "/src/a\xff"
 * ```
 */
export function diskPath(path: string): string {
  if (!hasLoneSurrogate(path)) return path;
  if (!bytePaths) throw unsupported(path);
  return Buffer.from(encodeName(path)) as unknown as string;
}

/**
 * The names in directory `path`, escaped where they are not UTF-8. They are listed as
 * text first (fast, and what nearly every directory needs); only a listing that shows
 * U+FFFD is read again as bytes to tell which names really hold it.
 *
 * @example
 * ```ts
 * readNamesSync("/src"); // ["a\udcff", "b.txt"]
 * ```
 */
export function readNamesSync(path: string): string[] {
  const at = diskPath(path);
  const names = nodeFs.readdirSync(at);
  if (!names.some(hasReplacement)) return names;
  if (!bytePaths) return checkReachable(path, names);
  return nodeFs.readdirSync(at, { encoding: "buffer" }).map((bytes) => decodeName(bytes));
}

/**
 * The target of the symlink at `path`, escaped where it is not UTF-8.
 *
 * @example
 * ```ts
 * readLinkSync("/src/l"); // "t\udcfe"
 * ```
 */
export function readLinkSync(path: string): string {
  const at = diskPath(path);
  const target = nodeFs.readlinkSync(at);
  if (!target.includes(REPLACEMENT)) return target;
  return decodeName(nodeFs.readlinkSync(at, { encoding: "buffer" }));
}

function hasReplacement(name: string): boolean {
  return name.includes(REPLACEMENT);
}

function unsupported(path: string): FSCacheError {
  return new FSCacheError(
    "ERR_UNSUPPORTED_NAME",
    `${JSON.stringify(path)}: this runtime's node:fs cannot use names that are not UTF-8`,
    { path },
  );
}

/**
 * Where listings lose bytes (Deno), a listed name with U+FFFD that `lstat` cannot find
 * and a second listing still shows stands for some other bytes: an error, never a
 * silently skipped entry. One that vanished in between is simply gone.
 */
function checkReachable(dir: string, names: string[]): string[] {
  for (const name of names) {
    if (!hasReplacement(name)) continue;
    try {
      nodeFs.lstatSync(`${dir}/${name}`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
      if (nodeFs.readdirSync(dir).includes(name)) throw unsupported(`${dir}/${name}`);
    }
  }
  return names;
}

/** The promise methods of {@linkcode FileSystem}. */
type PromiseMethods =
  | "readFile"
  | "writeFile"
  | "mkdir"
  | "readdir"
  | "lstat"
  | "stat"
  | "readlink"
  | "symlink"
  | "unlink"
  | "rmdir"
  | "rm"
  | "rename"
  | "chmod"
  | "utimes"
  | "copyFile"
  | "link";

/**
 * The shape of {@linkcode diskFs}: {@linkcode FileSystem}'s calls in `node:fs` form (sync
 * methods, `promises`), plus the optional ones the local transport and the receiver use.
 */
export interface DiskFs extends Omit<FileSystem, PromiseMethods | "asyncOnly"> {
  promises: Pick<FileSystem, PromiseMethods>;
  rmdirSync(path: string): void;
  lutimesSync(path: string, atime: number | Date, mtime: number | Date): void;
  lchownSync(path: string, uid: number, gid: number): void;
  fchmodSync(fd: number, mode: number): void;
  fchownSync(fd: number, uid: number, gid: number): void;
  ftruncateSync(fd: number, length?: number): void;
  fstatSync(fd: number): FileStats & { blocks: number };
  /** See `lstatInto` in `node_lstat.ts`: the five numbers a walk keeps, without a stat object. */
  lstatInto(path: string, out: Float64Array, at: number): boolean;
}

type Time = number | Date;

/**
 * `node:fs` as fscache uses it on the real disk, keeping names that are not UTF-8 (see
 * the module doc). Only the calls listed in {@linkcode DiskFs}: a path call missing here
 * fails loudly instead of quietly reaching a UTF-8 lookalike of the name.
 *
 * @example
 * ```ts
 * diskFs.readdirSync("/src"); // ["a\udcff"]
 * diskFs.symlinkSync("t\udcfe", "/snap/l"); // the target's bytes are "t\xfe"
 * ```
 */
export const diskFs: DiskFs = {
  readFileSync: (path) => nodeFs.readFileSync(diskPath(path)),
  writeFileSync: (path, data, options) => nodeFs.writeFileSync(diskPath(path), data, options),
  mkdirSync: (path, options?: MkdirOptions) => nodeFs.mkdirSync(diskPath(path), options),
  readdirSync: readNamesSync,
  lstatSync: (path) => lstatSync(diskPath(path)),
  lstatInto: (path, out, at) => lstatInto(diskPath(path), out, at),
  statSync: (path) => nodeFs.statSync(diskPath(path)),
  readlinkSync: readLinkSync,
  symlinkSync: (target, path) => nodeFs.symlinkSync(diskPath(target), diskPath(path)),
  unlinkSync: (path) => nodeFs.unlinkSync(diskPath(path)),
  rmdirSync: (path) => nodeFs.rmdirSync(diskPath(path)),
  rmSync: (path, options?: RmOptions) => nodeFs.rmSync(diskPath(path), options),
  renameSync: (from, to) => nodeFs.renameSync(diskPath(from), diskPath(to)),
  chmodSync: (path, mode) => nodeFs.chmodSync(diskPath(path), mode),
  utimesSync: (path, atime: Time, mtime: Time) => nodeFs.utimesSync(diskPath(path), atime, mtime),
  lutimesSync: (path, atime: Time, mtime: Time) => nodeFs.lutimesSync(diskPath(path), atime, mtime),
  lchownSync: (path, uid, gid) => nodeFs.lchownSync(diskPath(path), uid, gid),
  copyFileSync: (from, to) => nodeFs.copyFileSync(diskPath(from), diskPath(to)),
  linkSync: (existing, path) => nodeFs.linkSync(diskPath(existing), diskPath(path)),
  existsSync: (path) => nodeFs.existsSync(diskPath(path)),
  openSync: (path, flags, mode) => openSync(diskPath(path), flags, mode),
  readSync,
  writeSync: nodeFs.writeSync as DiskFs["writeSync"],
  fsyncSync: nodeFs.fsyncSync,
  closeSync,
  fchmodSync: nodeFs.fchmodSync,
  fchownSync: nodeFs.fchownSync,
  ftruncateSync: nodeFs.ftruncateSync,
  fstatSync,
  // Over the callback functions, not `node:fs/promises` (see `_fs_callbacks.ts`).
  promises: {
    readFile: ((path: string, encoding?: "utf8") =>
      promised(nodeFs.readFile, diskPath(path), encoding)) as FileSystem["readFile"],
    writeFile: (path, data, options) => promised(nodeFs.writeFile, diskPath(path), data, options),
    mkdir: (path, options) => promised<string | undefined>(nodeFs.mkdir, diskPath(path), options),
    readdir: async (path) => {
      const names = await promised<string[]>(nodeFs.readdir, diskPath(path));
      return names.some(hasReplacement) ? readNamesSync(path) : names;
    },
    lstat: (path) => promised<nodeFs.Stats>(nodeFs.lstat, diskPath(path)),
    stat: (path) => promised<nodeFs.Stats>(nodeFs.stat, diskPath(path)),
    readlink: async (path) => {
      const target = await promised<string>(nodeFs.readlink, diskPath(path));
      return target.includes(REPLACEMENT) ? readLinkSync(path) : target;
    },
    symlink: (target, path) => promised(nodeFs.symlink, diskPath(target), diskPath(path)),
    unlink: (path) => promised(nodeFs.unlink, diskPath(path)),
    rmdir: (path) => promised(nodeFs.rmdir, diskPath(path)),
    rm: (path, options) => promised(nodeFs.rm, diskPath(path), options),
    rename: (from, to) => promised(nodeFs.rename, diskPath(from), diskPath(to)),
    chmod: (path, mode) => promised(nodeFs.chmod, diskPath(path), mode),
    utimes: (path, atime, mtime) => promised(nodeFs.utimes, diskPath(path), atime, mtime),
    copyFile: (from, to) => promised(nodeFs.copyFile, diskPath(from), diskPath(to)),
    link: (existing, path) => promised(nodeFs.link, diskPath(existing), diskPath(path)),
  },
};

/**
 * The real disk as a {@linkcode FileSystem}, keeping names that are not UTF-8: what
 * fscache's disk backend, CLI and transports use. `fileSystemFrom(node:fs)` still works
 * for trees of UTF-8 names only.
 *
 * @example
 * ```ts
 * const backend = new FsBackend(diskFileSystem, "/var/cache/fscache/snapshots");
 * ```
 */
export const diskFileSystem: FileSystem = fileSystemFrom(diskFs);

/** Calls that tell `node:fs` (or {@linkcode diskFs}) from a wrapper that changes some of them. */
const IDENTITY_METHODS = [
  "lstatSync",
  "readdirSync",
  "openSync",
  "readSync",
  "writeSync",
  "closeSync",
  "rmSync",
  "renameSync",
  "chmodSync",
  "utimesSync",
] as const;

function sameCalls(fs: object, disk: object): boolean {
  const f = fs as Record<string, unknown>;
  const d = disk as Record<string, unknown>;
  return IDENTITY_METHODS.every((name) => f[name] === d[name]);
}

/**
 * True for `node:fs` itself or {@linkcode diskFs} (not a wrapper that changes some calls,
 * as the fault-injecting tests use): worker threads may then do the work on their own
 * {@linkcode diskFs}.
 *
 * @example
 * ```ts
 * isDiskFs(nodeStyleModuleOf(backend.fs) ?? backend.fs); // true for a DiskBackend
 * ```
 */
export function isDiskFs(fs: object | undefined): boolean {
  return fs !== undefined && (sameCalls(fs, diskFs) || sameCalls(fs, nodeFs));
}

/**
 * {@linkcode diskFs} for `node:fs` itself (however imported), which would lose names
 * that are not UTF-8; any other file system as it is.
 *
 * @example
 * ```ts
 * keepingByteNames(nodeFs) === diskFs; // true
 * ```
 */
export function keepingByteNames<T extends object>(fs: T): T | DiskFs {
  return sameCalls(fs, nodeFs) ? diskFs : fs;
}
