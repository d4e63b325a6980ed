/**
 * `lstat` and `fstat` for the hot loops (walks, scans, copies) on the real disk.
 *
 * Node 20's `fs.lstatSync` builds a `Stats` object with four `Date`s per call, eagerly.
 * On a walk of 100,000 entries that allocation and its garbage collection cost about a
 * sixth of the CPU time of a no-op sync. On Node 20 (POSIX) the numbers therefore come
 * straight from the array Node's own fs binding fills, into a small object with only
 * the fields fscache reads. That binding is not a public API, so it is used only after
 * a check at load that it answers exactly as `fs.lstatSync` does (same fields for an
 * existing path, the same `ENOENT` for a missing one); on any other runtime or version,
 * when the check fails, or under `--pending-deprecation` (where touching it would print
 * a warning), this is plain `fs.lstatSync`. `fstat` takes the same path, checked against
 * `fs.fstatSync` on the first descriptor it is given.
 * @module
 */
import { fstatSync as fsFstatSync, lstatSync as fsLstatSync, type Stats } from "node:fs";
import { cwd } from "node:process";
import { isGone } from "../core/errors.ts";
import type { FileStats } from "../core/file_system.ts";
import { runtimeBinding } from "../core/runtime_builtin.ts";

const S_IFMT = 0o170000;

/** Where the binding's array holds what fscache reads (Node's `kFsStatsFieldsNumber` layout). */
const MODE = 1;
const UID = 3;
const GID = 4;
const SIZE = 8;
/** A time's seconds; its nanoseconds follow. */
const MTIME = 12;
const CTIME = 14;

/** The fields fscache reads, from the binding's array. */
class LightStats implements FileStats {
  dev: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  ino: number;
  size: number;
  blocks: number;
  mtimeMs: number;
  ctimeMs: number;
  constructor(a: Float64Array) {
    this.dev = a[0] as number;
    this.mode = a[MODE] as number;
    this.nlink = a[2] as number;
    this.uid = a[UID] as number;
    this.gid = a[GID] as number;
    this.rdev = a[5] as number;
    this.ino = a[7] as number;
    this.size = a[SIZE] as number;
    this.blocks = a[9] as number;
    // As Node computes `mtimeMs`, so both paths give the same number to the last bit
    // (written out, not called: this runs per entry of a walk, mostly unoptimized).
    this.mtimeMs = (a[MTIME] as number) * 1e3 + (a[MTIME + 1] as number) / 1e6;
    this.ctimeMs = (a[CTIME] as number) * 1e3 + (a[CTIME + 1] as number) / 1e6;
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
}

type BindingLstat = (path: string, bigint: false, req: undefined, throwIfNoEntry: true) => Float64Array;
type BindingFstat = (fd: number, bigint: false, req: undefined, shouldNotThrow: false) => Float64Array;

const FIELDS = ["dev", "mode", "nlink", "uid", "gid", "ino", "size", "blocks", "mtimeMs", "ctimeMs"] as const;

/** Whether `light` holds every field fscache reads as `real` has it. */
function sameFields(light: LightStats, real: Stats): boolean {
  return FIELDS.every((key) => light[key] === real[key]);
}

/** The binding's `lstat`, if it exists here and behaves as `fs.lstatSync` does; else undefined. */
function checkedBindingLstat(): BindingLstat | undefined {
  const binding = runtimeBinding("fs");
  if (!binding) return undefined;
  try {
    const lstat = binding.lstat as BindingLstat | undefined;
    if (typeof lstat !== "function") return undefined;
    const probe = cwd();
    if (!sameFields(new LightStats(lstat(probe, false, undefined, true)), fsLstatSync(probe))) return undefined;
    try {
      lstat(`${probe}/.fscache-missing-${Math.random().toString(36).slice(2)}`, false, undefined, true);
      return undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") return undefined;
    }
    return lstat;
  } catch {
    return undefined;
  }
}

const bindingLstat = checkedBindingLstat();

/**
 * `lstat` of `path` (a string or, for names that are not UTF-8, its bytes), throwing
 * as `fs.lstatSync` does (`ENOENT` with the path).
 *
 * @example
 * ```ts
 * lstatSync("/srv/context/app.js").mtimeMs; // 1700000000123.456
 * ```
 */
export const lstatSync: (path: string) => FileStats = bindingLstat
  ? (path) =>
      // A string with NUL would be cut short by the binding; `fs.lstatSync` refuses it.
      typeof path === "string" && !path.includes("\0")
        ? new LightStats(bindingLstat(path, false, undefined, true))
        : fsLstatSync(path)
  : (path) => fsLstatSync(path);

/**
 * `lstat` of `path` written as numbers into `out` from `at`: mode, uid, gid, size and
 * `mtimeMs`, each exactly as {@linkcode lstatSync} gives it. False, with nothing
 * written, when the path is missing (`ENOENT`, `ENOTDIR`); other errors throw as
 * `fs.lstatSync` throws them. A walk's hot loop stores these five numbers per entry:
 * taken straight from the array Node's binding fills, no stat object is built for them
 * (on Node 20; elsewhere they are copied from `fs.lstatSync`'s).
 *
 * @example
 * ```ts
 * const row = new Float64Array(5);
 * if (lstatInto("/srv/context/app.js", row, 0)) row[3]; // the size
 * ```
 */
export const lstatInto: (path: string, out: Float64Array, at: number) => boolean = (path, out, at) => {
  let a: Float64Array | undefined;
  let stats: FileStats | undefined;
  try {
    if (bindingLstat && typeof path === "string" && !path.includes("\0")) {
      a = bindingLstat(path, false, undefined, true);
    } else stats = fsLstatSync(path);
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
  if (a !== undefined) {
    out[at] = a[MODE] as number;
    out[at + 1] = a[UID] as number;
    out[at + 2] = a[GID] as number;
    out[at + 3] = a[SIZE] as number;
    out[at + 4] = (a[MTIME] as number) * 1e3 + (a[MTIME + 1] as number) / 1e6; // as LightStats
  } else {
    const s = stats as FileStats;
    out[at] = s.mode;
    out[at + 1] = s.uid;
    out[at + 2] = s.gid;
    out[at + 3] = s.size;
    out[at + 4] = s.mtimeMs;
  }
  return true;
};

/** Whether {@linkcode lstatSync} takes the fast path here (for tests and benchmarks). */
export const lstatSkipsStats: boolean = bindingLstat !== undefined;

/**
 * The binding's `fstat` once it answered for a descriptor exactly as `fs.fstatSync`
 * did (`null`: it did not, or is not here; `undefined`: not known yet). Checked on a
 * real descriptor, the first one given, rather than one opened at load for nothing.
 */
let bindingFstat: BindingFstat | null | undefined;

function checkedBindingFstat(fd: number): BindingFstat | null | undefined {
  const fstat = runtimeBinding("fs")?.fstat as BindingFstat | undefined;
  if (typeof fstat !== "function") return null;
  let real: Stats;
  try {
    real = fsFstatSync(fd);
  } catch {
    return undefined; // a bad descriptor decides nothing; fs.fstatSync reports it
  }
  try {
    return sameFields(new LightStats(fstat(fd, false, undefined, false)), real) ? fstat : null;
  } catch {
    return null;
  }
}

/**
 * `fstat` of the open descriptor `fd`, throwing as `fs.fstatSync` does (`EBADF`). A
 * copy asks it what a file it just created got (mode, owner) instead of setting both
 * whatever they are: an `fchmod` and an `fchown` each journal a change of the inode,
 * ~7 µs apiece here, against ~5 µs for this (10,000 new files on an ext4 image in
 * memory).
 *
 * @example
 * ```ts
 * const fd = fs.openSync("/cache/snap/app.js", "wx", 0o644);
 * fstatSync(fd).mode & 0o7777; // 0o644 (under umask 022)
 * ```
 */
export function fstatSync(fd: number): FileStats & { blocks: number } {
  if (bindingFstat === undefined) bindingFstat = checkedBindingFstat(fd);
  return bindingFstat ? new LightStats(bindingFstat(fd, false, undefined, false)) : fsFstatSync(fd);
}

/**
 * Whether {@linkcode fstatSync} takes the fast path here, once it has been called (for
 * tests and benchmarks).
 *
 * @example
 * ```ts
 * fstatSync(fd);
 * fstatSkipsStats(); // true on Node 20
 * ```
 */
export function fstatSkipsStats(): boolean {
  return typeof bindingFstat === "function";
}
