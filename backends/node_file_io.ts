/**
 * `open`, `read` and `close` for the hot loops on the real disk: the checksum's scan,
 * a sync's copies, the push sender's reads, a receiver's comparisons.
 *
 * Node 20's `fs.openSync` and `fs.readSync` check and normalize their arguments in
 * JavaScript on every call (a path validated and made namespaced, flags parsed from a
 * string, offsets and positions validated), then call the fs binding. Run per file,
 * mostly before V8 has optimized the loop that calls them, and inlined into it when it
 * has (more for TurboFan to compile, on both threads of a scan), that cost
 * `fscache checksum` of the small benchmark tree ~5% of its CPU time. Here the binding is
 * called as Node's own functions call it, for the arguments whose meaning is plain
 * (a string path without NUL, the flags fscache uses, whole-number offsets inside the
 * buffer); anything else goes to `node:fs`, which validates and throws as usual. The
 * binding is not a public API: this path is taken only on Node 20 (POSIX), when Node's
 * own `openSync`, `readSync` and `closeSync` call it with exactly these arguments (their
 * source says so; older 20.x releases passed a context object the binding needs), and
 * after a read through it gave the same bytes as `fs.readSync`; else it is `node:fs`.
 * @module
 */
import { constants, closeSync as fsCloseSync, openSync as fsOpenSync, readSync as fsReadSync } from "node:fs";
import { execPath } from "node:process";
import { runtimeBinding } from "../core/runtime_builtin.ts";

type BindingOpen = (path: string, flags: number, mode: number) => number;
type BindingRead = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => number;
type BindingClose = (fd: number) => void;

interface FileBinding {
  open: BindingOpen;
  read: BindingRead;
  close: BindingClose;
}

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_TRUNC, O_EXCL } = constants;
/**
 * The flag strings fscache opens files with, as Node's `stringToFlags` reads them (a
 * Map: an object would answer "toString" with a function, which the binding would
 * take for flags and abort the process on).
 */
const FLAGS = new Map<string, number>([
  ["r", O_RDONLY],
  ["r+", O_RDWR],
  ["w", O_TRUNC | O_CREAT | O_WRONLY],
  ["wx", O_TRUNC | O_CREAT | O_WRONLY | O_EXCL],
]);

/** Whether Node's `fn` is `binding.<call>(…)` with these arguments and no context object. */
function callsBindingAs(fn: unknown, call: RegExp): boolean {
  if (typeof fn !== "function") return false;
  const source = Function.prototype.toString.call(fn);
  return call.test(source) && !source.includes("ctx");
}

/** The binding's `open`/`read`/`close`, if Node calls them as this module does and a probe read agrees. */
function checkedBinding(): FileBinding | undefined {
  const binding = runtimeBinding("fs") as Partial<FileBinding> | undefined;
  if (!binding) return undefined;
  const { open, read, close } = binding;
  if (typeof open !== "function" || typeof read !== "function" || typeof close !== "function") return undefined;
  if (
    !callsBindingAs(
      fsOpenSync,
      /binding\.open\(\s*pathModule\.toNamespacedPath\(path\),\s*stringToFlags\(flags\),\s*parseFileMode\(mode, 'mode', 0o666\),?\s*\)/,
    ) ||
    !callsBindingAs(fsReadSync, /return binding\.read\(fd, buffer, offset, length, position\);/) ||
    !callsBindingAs(fsCloseSync, /^function closeSync\(fd\) \{\s*binding\.close\(fd\);\s*\}$/)
  ) {
    return undefined;
  }
  try {
    // Probe with a file every Node process can read: its own executable.
    const fd = open(execPath, O_RDONLY, 0o666);
    const mine = new Uint8Array(16);
    const theirs = new Uint8Array(16);
    try {
      const n = read(fd, mine, 0, mine.length, 0);
      const m = fsReadSync(fd, theirs, 0, theirs.length, 0);
      if (n !== m || n === 0 || mine.some((byte, i) => byte !== theirs[i])) return undefined;
    } finally {
      close(fd);
    }
    return { open, read, close };
  } catch {
    return undefined;
  }
}

const binding = checkedBinding();

/** Whether `n` is a whole number the binding takes as a descriptor (an int32 ≥ 0). */
function isFd(n: number): boolean {
  return (n | 0) === n && n >= 0;
}

/**
 * `fs.openSync(path, flags, mode)`, faster for `"r"`, `"r+"`, `"w"` and `"wx"`; throws
 * as `fs.openSync` does (`ENOENT`, `EEXIST`, … with the path).
 *
 * @example
 * ```ts
 * const fd = openSync("/srv/context/app.js", "r");
 * ```
 */
export function openSync(path: string, flags: string, mode = 0o666): number {
  const bits = FLAGS.get(flags);
  if (binding && bits !== undefined && typeof path === "string" && !path.includes("\0") && (mode & 0o777777) === mode) {
    return binding.open(path, bits, mode);
  }
  return fsOpenSync(path, flags, mode);
}

/**
 * `fs.readSync(fd, buffer, offset, length, position)`: reads at `position`, or from the
 * file's offset when it is `null`; returns the bytes read (0 at the end).
 *
 * @example
 * ```ts
 * const n = readSync(fd, buffer, 0, buffer.length, null);
 * ```
 */
export function readSync(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number | null,
): number {
  if (
    binding &&
    isFd(fd) &&
    ArrayBuffer.isView(buffer) &&
    Number.isSafeInteger(offset) &&
    // The binding asserts an int32 length (it aborts on more, from a buffer over 2 GiB).
    (length | 0) === length &&
    offset >= 0 &&
    length > 0 &&
    offset + length <= buffer.byteLength &&
    (position === null || (Number.isSafeInteger(position) && position >= 0))
  ) {
    return binding.read(fd, buffer, offset, length, position ?? -1);
  }
  return fsReadSync(fd, buffer, offset, length, position);
}

/**
 * `fs.closeSync(fd)`.
 *
 * @example
 * ```ts
 * closeSync(fd);
 * ```
 */
export function closeSync(fd: number): void {
  if (binding && isFd(fd)) binding.close(fd);
  else fsCloseSync(fd);
}

/** Whether these calls go to the binding here (for tests and benchmarks). */
export const fileIoSkipsChecks: boolean = binding !== undefined;
