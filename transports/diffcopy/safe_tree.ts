/**
 * File-system writes confined to one destination directory. Before touching a path,
 * every parent component is checked with `lstat` to be a real directory (not a
 * symlink), so a write can never be redirected outside; new files are created under
 * their own path or under a fresh name with `O_CREAT|O_EXCL` (which never follows a
 * symlink), and only a plain file that `lstat` just saw is overwritten in place. A
 * dropped connection fails the receive: the snapshot stays stale until the next one.
 * @module
 */
import { errorCode, FSCacheError, isGone } from "../../core/errors.ts";
import { type FileStats, type FileSystem, nodeStyleModuleOf } from "../../core/file_system.ts";
import { joinPath } from "../../core/path.ts";
import { BLOCK_SIZE, blockPadding } from "../block_padding.ts";
import { linkTime } from "../file_time.ts";
import { SPARSE_MIN_SIZE, writeSkippingZeros } from "../sparse_write.ts";
import { inWritableDir } from "../writable_dir.ts";

/** Prefix of in-progress files; a later receive deletes leftovers like any unknown entry. */
export const TEMP_PREFIX = ".fscache-tmp-";

/** Where a received file's content is written: see {@linkcode SafeTree.openFile}. */
export interface FileTarget {
  /** The file written: `path` itself, or a temporary file renamed over it when finished. */
  temp: string;
  fd: number;
  /** `temp` is the path itself: nothing to rename. */
  direct: boolean;
  /** Size of the file being overwritten in place (-1 for a new one): longer is cut to size. */
  previousSize: number;
  /** The size the file will have. */
  size: number;
  /** Content bytes {@linkcode SafeTree.write} has written. */
  written: number;
  /** Some blocks of zeros were left as holes: the file gets its length when finished. */
  holes?: boolean;
}

function ignore(): void {}

/**
 * A destination directory that only accepts writes below it.
 *
 * @example
 * ```ts
 * const tree = new SafeTree(fs, "/srv/snap/1");
 * tree.mkdir("src", 0o755);
 * const target = tree.openFile("src/main.ts", false);
 * ```
 */
export class SafeTree {
  readonly fs: FileSystem;
  readonly dest: string;
  readonly #verified = new Set<string>();
  readonly #tempBase = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
  #tempCount = 0;
  /** `node:fs` and memfs have it; a file system without it gets no writes in place. */
  readonly #ftruncate: ((fd: number, length: number) => void) | undefined;
  readonly #lutimes: ((path: string, atime: number | Date, mtime: number | Date) => void) | undefined;
  readonly #fchmod: ((fd: number, mode: number) => void) | undefined;
  readonly #fstat: ((fd: number) => { mode: number }) | undefined;
  /**
   * Directories kept open (owner rwx) while the receive writes, and the modes they get
   * at its end ({@linkcode finishModes}): a process that is not root cannot write into a
   * 0555 directory it made, or one an earlier receive left read-only.
   */
  readonly #laterModes = new Map<string, number>();
  /** Whether the umask leaves a new directory its owner's rwx (see {@linkcode mkdir}). */
  #keepsOwner: boolean | undefined;

  constructor(fs: FileSystem, dest: string) {
    this.fs = fs;
    this.dest = dest;
    const raw = (nodeStyleModuleOf(fs) ?? fs) as {
      ftruncateSync?: (fd: number, length: number) => void;
      lutimesSync?: (path: string, atime: number | Date, mtime: number | Date) => void;
      fchmodSync?: (fd: number, mode: number) => void;
      fstatSync?: (fd: number) => { mode: number };
    };
    this.#ftruncate = typeof raw.ftruncateSync === "function" ? raw.ftruncateSync.bind(raw) : undefined;
    this.#lutimes = typeof raw.lutimesSync === "function" ? raw.lutimesSync.bind(raw) : undefined;
    this.#fchmod = typeof raw.fchmodSync === "function" ? raw.fchmodSync.bind(raw) : undefined;
    this.#fstat = typeof raw.fstatSync === "function" ? raw.fstatSync.bind(raw) : undefined;
  }

  /** Whether {@linkcode symlink} sets a link's own time (the file system has `lutimes`). */
  get linkTimes(): boolean {
    return this.#lutimes !== undefined;
  }

  full(path: string): string {
    return joinPath(this.dest, path);
  }

  /**
   * Starts looking `path` up on the file system's own threads, so that its inode is in
   * memory by the time the file is opened: the kernel drops those of files not touched
   * for a while, and reading one back from the disk (~0.2 ms here) is then much of the
   * cost of overwriting a changed file. Errors are left to the open.
   */
  warm(path: string): void {
    this.fs.lstat(this.full(path)).then(ignore, ignore);
  }

  /** `lstat`, or `undefined` when nothing is there. */
  lstat(path: string): FileStats | undefined {
    try {
      return this.fs.lstatSync(this.full(path));
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /** Throws unless every parent of `path` is a real directory below the destination. */
  assertParents(path: string): void {
    for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
      const dir = path.slice(0, i);
      if (this.#verified.has(dir)) continue;
      const st = this.lstat(dir);
      if (!st?.isDirectory()) {
        throw new FSCacheError("ERR_UNSAFE_PATH", `refusing to write below ${JSON.stringify(dir)}: not a directory`, {
          path,
        });
      }
      this.#verified.add(dir);
    }
  }

  /** Removes `path` and everything below it (a symlink is removed, never followed). */
  remove(path: string): void {
    this.assertParents(path);
    this.#removeTree(this.full(path));
    for (const dir of this.#verified) {
      if (dir === path || dir.startsWith(`${path}/`)) this.#verified.delete(dir);
    }
  }

  /**
   * Depth-first with `lstat`: links are unlinked one by one, and a recursive `rm` only
   * ever sees an empty directory — some file systems' recursive `rm` (memfs) follows
   * a symlink to a directory and empties the target.
   */
  #removeTree(full: string): void {
    let st: FileStats;
    try {
      st = this.fs.lstatSync(full);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return;
      throw err;
    }
    if (!st.isDirectory()) {
      this.#inOpenDir(full, () => this.fs.unlinkSync(full));
      return;
    }
    if ((st.mode & 0o700) !== 0o700) this.fs.chmodSync(full, (st.mode & 0o7777) | 0o700);
    for (const name of this.fs.readdirSync(full)) this.#removeTree(`${full}/${name}`);
    this.#inOpenDir(full, () => this.fs.rmSync(full, { recursive: true, force: true }));
  }

  /**
   * Makes `path` a directory with `mode` (replacing whatever else is there), kept open
   * to its owner (rwx) until {@linkcode finishModes}. A directory made here has the
   * bits the umask left it until `restoreDirTimes` (which every receive ends with) sets
   * `mode` where it differs: a `chmod` after each `mkdir` journalled a change of the
   * inode for each of a first push's 1,111 directories, though the umask mostly takes
   * nothing from them.
   */
  mkdir(path: string, mode: number): void {
    this.assertParents(path);
    const full = this.full(path);
    const bits = mode & 0o7777;
    const open = bits | 0o700;
    let made = true;
    // mkdir first: a failed lstat (the common case, a new directory) costs an exception
    try {
      this.#inOpenDir(full, () => this.fs.mkdirSync(full, { mode: open }));
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
      if (this.lstat(path)?.isDirectory()) made = false;
      else {
        this.remove(path);
        this.#inOpenDir(full, () => this.fs.mkdirSync(full, { mode: open }));
      }
    }
    if (bits === open) this.#laterModes.delete(full);
    else this.#laterModes.set(full, bits);
    // An old directory gets its owner's rwx now; a new one has it, unless the umask takes
    // owner bits (looked at once per tree: it is the process's).
    if (!made || !this.#umaskKeepsOwner(full)) this.fs.chmodSync(full, open);
    this.#verified.add(path);
  }

  /** Whether a directory just made at `full` (asked for owner rwx) got owner rwx; the first answer stands. */
  #umaskKeepsOwner(full: string): boolean {
    this.#keepsOwner ??= (this.fs.lstatSync(full).mode & 0o700) === 0o700;
    return this.#keepsOwner;
  }

  /**
   * Makes `path` a symlink to `target`, with mtime `time` (as `fileTime` gives it) where the file
   * system can set a link's own times (`lutimes`: `node:fs`, the disk; not memfs).
   */
  symlink(path: string, target: string, time?: number | Date): void {
    this.assertParents(path);
    if (this.lstat(path)) this.remove(path);
    this.#inOpenDir(this.full(path), () => this.fs.symlinkSync(target, this.full(path)));
    if (time !== undefined) this.#lutimes?.(this.full(path), linkTime(time), linkTime(time));
  }

  /** Makes `path` a hard link to the regular file `target` (both below the destination). */
  link(path: string, target: string): void {
    this.assertParents(path);
    this.assertParents(target);
    const st = this.lstat(target);
    if (!st?.isFile()) {
      throw new FSCacheError("ERR_UNSAFE_PATH", `hard link target ${JSON.stringify(target)} is not a regular file`, {
        path,
      });
    }
    if (this.lstat(path)) this.remove(path);
    this.#inOpenDir(this.full(path), () => this.fs.linkSync(this.full(target), this.full(path)));
  }

  /**
   * Opens where the content of the regular file `path` is written. A path nothing held
   * (`existed` false) is created itself with O_EXCL, which never follows a link, and
   * with the permission bits of `mode` (all of it is set by {@linkcode finishFile}). A plain
   * file there (not a link, not hard-linked elsewhere) is overwritten in place and cut to
   * size by {@linkcode finishFile}: a rename per changed file cost ~0.2 ms here, against
   * ~0.02 ms for the write in place. Anything else gets a temporary file beside it,
   * renamed over it by {@linkcode finishFile}.
   *
   * @example
   * ```ts
   * const target = tree.openFile("src/main.ts", true, data.length, 0o644);
   * tree.write(target, data);
   * tree.finishFile(target, "src/main.ts", data.length, 0o644, mtime);
   * ```
   */
  openFile(path: string, existed: boolean, size: number, mode = 0o600): FileTarget {
    this.assertParents(path);
    const full = this.full(path);
    const fresh = { size, written: 0 };
    if (!existed) {
      try {
        // Made with its permissions, a file mostly needs no fchmod (see finishFile); the
        // set-ID bits wait for finishFile, since writing may clear them.
        const fd = this.#inOpenDir(full, () => this.fs.openSync(full, "wx", mode & 0o777));
        return { temp: full, fd, direct: true, previousSize: -1, ...fresh };
      } catch (err) {
        if (errorCode(err) !== "EEXIST") throw err;
      }
    }
    const st = this.lstat(path);
    const fd = st?.isFile() && st.nlink === 1 && this.#ftruncate ? this.#openInPlace(full) : undefined;
    if (fd === undefined) return { ...this.#createTemp(path), direct: false, previousSize: -1, ...fresh };
    if (size < SPARSE_MIN_SIZE) return { temp: full, fd, direct: true, previousSize: st?.size ?? 0, ...fresh };
    // Emptied first, so that its zero blocks can stay holes with no old data under them.
    try {
      this.#ftruncate?.(fd, 0);
    } catch (err) {
      this.fs.closeSync(fd);
      throw err;
    }
    return { temp: full, fd, direct: true, previousSize: -1, ...fresh };
  }

  /** A plain file opened to be overwritten; `undefined` when this process may not write it (it is replaced instead). */
  #openInPlace(full: string): number | undefined {
    try {
      return this.fs.openSync(full, "r+");
    } catch (err) {
      if (errorCode(err) !== "EACCES" && errorCode(err) !== "EPERM") throw err;
      return undefined;
    }
  }

  /**
   * Writes the next `data` of a file {@linkcode openFile} began. Over a file rewritten in
   * place, the write that ends the content covers its last block whole (zeros after the
   * content, cut off by {@linkcode finishFile}), so no old block is read back.
   *
   * @example
   * ```ts
   * const target = tree.openFile("big.bin", true, 10_000);
   * tree.write(target, first8k);
   * tree.write(target, last2k);
   * ```
   */
  write(target: FileTarget, data: Uint8Array): void {
    const end = target.written + data.length;
    // A new or emptied file (no old data under its holes) of some size: the sender does
    // not say which files were sparse, so each whole block of zeros is left as a hole.
    if (target.previousSize === -1 && target.size >= SPARSE_MIN_SIZE && this.#ftruncate) {
      if (writeSkippingZeros(this.fs, target.fd, data, data.length, target.written) < data.length) target.holes = true;
      target.written = end;
      return;
    }
    const pad = end === target.size ? blockPadding(end, target.previousSize) : 0;
    if (pad === 0) this.#writeAll(target.fd, data);
    else {
      // Whole blocks as they are, then the last block's content with its zeros in one write.
      const head = Math.max(0, data.length - (end % BLOCK_SIZE));
      if (head > 0) this.#writeAll(target.fd, data.subarray(0, head));
      const last = new Uint8Array(data.length - head + pad);
      last.set(data.subarray(head));
      this.#writeAll(target.fd, last);
    }
    target.written = end;
  }

  #writeAll(fd: number, data: Uint8Array): void {
    for (let offset = 0; offset < data.length; ) offset += this.fs.writeSync(fd, data, offset, data.length - offset);
  }

  /**
   * Ends a file {@linkcode openFile} began once `written` bytes are in: cuts a file
   * overwritten in place to size, closes it (also when cutting fails), sets its mode and
   * time, and renames a temporary file over `path`.
   */
  finishFile(target: FileTarget, path: string, written: number, mode: number, mtime: number | Date): void {
    let modeSet = false;
    try {
      // Longer before, written past the end by a padded last block, or ending in a hole.
      if (target.holes || target.previousSize > written || blockPadding(written, target.previousSize) > 0) {
        this.#ftruncate?.(target.fd, written);
      }
      // Through the descriptor, which spares resolving the path again (times stay by
      // path: Deno's futimesSync drops a millisecond of some fractional-second times).
      // Only when the file lacks it: made with its mode (unless the umask or a default
      // ACL took bits) or rewritten in place over one that had it, it mostly has it, and
      // an fchmod journals a change of the inode (~7 µs a file here, the fstat ~5 µs).
      if (this.#fchmod) {
        const has = this.#fstat?.(target.fd).mode;
        if (has === undefined || (has & 0o7777) !== (mode & 0o7777)) this.#fchmod(target.fd, mode & 0o7777);
        modeSet = true;
      }
    } finally {
      this.fs.closeSync(target.fd);
    }
    if (!modeSet) this.fs.chmodSync(target.temp, mode & 0o7777);
    this.fs.utimesSync(target.temp, mtime, mtime);
    if (!target.direct) this.commitTemp(target.temp, path);
  }

  /**
   * Gives up a file {@linkcode openFile} began: closes it if `open`, and removes what was
   * written (a temporary file, or the path itself: neither old content nor half of the
   * new is left). Best effort: a leftover is deleted by the next receive's diff.
   */
  abandonFile(target: FileTarget, open: boolean): void {
    try {
      if (open) this.fs.closeSync(target.fd);
      this.fs.rmSync(target.temp, { force: true });
    } catch {
      // see above
    }
  }

  /** Creates a fresh temporary file beside `path`; returns its full path and descriptor. */
  #createTemp(path: string): { temp: string; fd: number } {
    this.assertParents(path);
    const slash = path.lastIndexOf("/");
    const dir = slash === -1 ? "." : path.slice(0, slash);
    for (;;) {
      // one random part per tree and a counter: O_EXCL makes any name safe, the random
      // part only makes clashes with leftovers unlikely (a random draw per file cost more
      // than the file's write)
      const temp = joinPath(this.full(dir), `${TEMP_PREFIX}${this.#tempBase}-${(this.#tempCount++).toString(36)}`);
      try {
        return { temp, fd: this.#inOpenDir(temp, () => this.fs.openSync(temp, "wx", 0o600)) };
      } catch (err) {
        if (errorCode(err) !== "EEXIST") throw err;
      }
    }
  }

  /** Moves a finished temporary file to `path`, replacing a file, link or directory there. */
  commitTemp(temp: string, path: string): void {
    this.assertParents(path);
    // rename replaces a file or link atomically and fails on a directory: look only then
    try {
      this.#inOpenDir(this.full(path), () => this.fs.renameSync(temp, this.full(path)));
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR") throw err;
    }
    if (this.lstat(path)?.isDirectory()) this.remove(path);
    this.fs.renameSync(temp, this.full(path));
  }

  /**
   * Gives the directories kept open while writing their modes, deepest first. Call it
   * once every write is done (a failed receive leaves them open: the next one repairs).
   */
  finishModes(): void {
    const dirs = [...this.#laterModes].sort(([a], [b]) => b.length - a.length);
    this.#laterModes.clear();
    for (const [full, mode] of dirs) {
      try {
        this.fs.chmodSync(full, mode);
      } catch (err) {
        if (errorCode(err) !== "ENOENT") throw err; // removed after it was made
      }
    }
  }

  /** {@linkcode inWritableDir} below the destination, keeping each opened directory's mode for {@linkcode finishModes}. */
  #inOpenDir<T>(full: string, op: () => T): T {
    return inWritableDir(this.fs, full, op, (dir, mode) => {
      if (dir.length < this.dest.length) throw new FSCacheError("EACCES", `cannot write in ${dir}`, { path: dir });
      if (!this.#laterModes.has(dir)) this.#laterModes.set(dir, mode);
    });
  }
}
