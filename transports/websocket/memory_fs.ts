/**
 * A small in-memory {@linkcode FileSystem} with working synchronous methods, for the
 * diff-copy sender and receiver in a browser page: OPFS offers no synchronous access on
 * a page, and memfs cannot be bundled for browsers (it imports Node built-ins). It holds
 * a picked folder whose contents are read only when a file is asked for
 * ({@linkcode MemoryFileSystem.load}), or a tree received from a server before it is
 * written into OPFS. Runtime-agnostic.
 * @module
 */
import type { FileStats, FileSystem, MkdirOptions, RmOptions } from "../../core/file_system.ts";

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

interface Node {
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  ino: number;
  nlink: number;
  /** Directory entries. */
  children?: Map<string, Node>;
  /** File content, when loaded or written. */
  data?: Uint8Array;
  /** Where a file's content is read from on {@linkcode MemoryFileSystem.load}. */
  blob?: Blob;
  size: number;
  target?: string;
}

interface Fd {
  node: Node;
  position: number;
  writing: boolean;
}

function fsError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

function split(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

class MemoryStats implements FileStats {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly dev = 1;
  readonly rdev = 0;
  readonly nlink: number;
  constructor(node: Node) {
    this.mode = node.mode;
    this.uid = node.uid;
    this.gid = node.gid;
    this.size = node.children ? 0 : node.size;
    this.mtimeMs = node.mtimeMs;
    this.ino = node.ino;
    this.nlink = node.nlink;
  }
  isFile(): boolean {
    return (this.mode & 0o170000) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & 0o170000) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & 0o170000) === S_IFLNK;
  }
}

/** Options of {@linkcode MemoryFileSystem}. */
export interface MemoryFileSystemOptions {
  /** Owner new entries get (default 0). */
  uid?: number;
  gid?: number;
  /** Drop a blob-backed file's loaded content when a read descriptor on it closes. */
  unloadAfterRead?: boolean;
}

/**
 * The file system. Paths are absolute POSIX paths; symlinks are stored, never followed.
 *
 * @example
 * ```ts
 * const fs = new MemoryFileSystem();
 * fs.mkdirSync("/tree");
 * fs.writeFileSync("/tree/a.txt", "hello");
 * fs.readdirSync("/tree"); // ["a.txt"]
 * ```
 */
export class MemoryFileSystem implements FileSystem {
  readonly #root: Node;
  readonly #fds = new Map<number, Fd>();
  #nextFd = 3;
  #nextIno = 1;
  readonly #uid: number;
  readonly #gid: number;
  readonly #unloadAfterRead: boolean;

  constructor(options: MemoryFileSystemOptions = {}) {
    this.#uid = options.uid ?? 0;
    this.#gid = options.gid ?? 0;
    this.#unloadAfterRead = options.unloadAfterRead ?? false;
    this.#root = this.#node(S_IFDIR | 0o755);
  }

  #node(mode: number, extra: Partial<Node> = {}): Node {
    const node: Node = {
      mode,
      uid: this.#uid,
      gid: this.#gid,
      mtimeMs: Date.now(),
      ino: this.#nextIno++,
      nlink: 1,
      size: 0,
    };
    if ((mode & 0o170000) === S_IFDIR) node.children = new Map();
    return Object.assign(node, extra);
  }

  #lookup(path: string, syscall: string): Node {
    let node = this.#root;
    for (const part of split(path)) {
      const next = node.children?.get(part);
      if (!node.children) throw fsError("ENOTDIR", syscall, path);
      if (!next) throw fsError("ENOENT", syscall, path);
      node = next;
    }
    return node;
  }

  #parent(path: string, syscall: string): { dir: Node; name: string } {
    const parts = split(path);
    const name = parts.pop();
    if (name === undefined) throw fsError("EEXIST", syscall, path);
    const dir = this.#lookup(`/${parts.join("/")}`, syscall);
    if (!dir.children) throw fsError("ENOTDIR", syscall, path);
    return { dir, name };
  }

  #add(path: string, node: Node, syscall: string): void {
    const { dir, name } = this.#parent(path, syscall);
    if (dir.children?.has(name)) throw fsError("EEXIST", syscall, path);
    dir.children?.set(name, node);
  }

  /**
   * Adds a file whose content stays in `blob` until {@linkcode load} reads it.
   *
   * @example
   * ```ts
   * fs.addBlob("/tree/a.txt", file, { mtimeMs: file.lastModified });
   * ```
   */
  addBlob(path: string, blob: Blob, options: { mtimeMs: number; mode?: number }): void {
    this.#add(
      path,
      this.#node(S_IFREG | (options.mode ?? 0o644), { blob, size: blob.size, mtimeMs: options.mtimeMs }),
      "open",
    );
  }

  /**
   * Reads a blob-backed file's content into memory, so the synchronous reads can serve it.
   *
   * @example
   * ```ts
   * await fs.load("/tree/a.txt");
   * fs.readFileSync("/tree/a.txt");
   * ```
   */
  async load(path: string): Promise<void> {
    const node = this.#lookup(path, "open");
    if (node.data === undefined && node.blob) node.data = new Uint8Array(await node.blob.arrayBuffer());
  }

  readFileSync(path: string): Uint8Array;
  readFileSync(path: string, encoding: "utf8"): string;
  readFileSync(path: string, encoding?: "utf8"): Uint8Array | string {
    const node = this.#lookup(path, "open");
    if (node.children) throw fsError("EISDIR", "read", path);
    if (node.data === undefined) throw fsError(node.blob ? "EAGAIN" : "EINVAL", "read", path);
    return encoding === "utf8" ? new TextDecoder().decode(node.data) : node.data.slice();
  }
  writeFileSync(path: string, data: Uint8Array | string, options: { mode?: number } = {}): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data.slice();
    const existing = this.#tryLookup(path);
    if (existing) {
      if (existing.children) throw fsError("EISDIR", "open", path);
      Object.assign(existing, { data: bytes, blob: undefined, size: bytes.length, mtimeMs: Date.now() });
    } else this.#add(path, this.#node(S_IFREG | (options.mode ?? 0o644), { data: bytes, size: bytes.length }), "open");
  }
  #tryLookup(path: string): Node | undefined {
    try {
      return this.#lookup(path, "stat");
    } catch {
      return undefined;
    }
  }
  mkdirSync(path: string, options: MkdirOptions = {}): unknown {
    if (options.recursive) {
      let at = "";
      for (const part of split(path)) {
        at += `/${part}`;
        const node = this.#tryLookup(at);
        if (!node) this.#add(at, this.#node(S_IFDIR | ((options.mode ?? 0o755) & 0o7777)), "mkdir");
        else if (!node.children) throw fsError("ENOTDIR", "mkdir", at);
      }
      return undefined;
    }
    this.#add(path, this.#node(S_IFDIR | ((options.mode ?? 0o755) & 0o7777)), "mkdir");
    return undefined;
  }
  readdirSync(path: string): string[] {
    const node = this.#lookup(path, "scandir");
    if (!node.children) throw fsError("ENOTDIR", "scandir", path);
    return [...node.children.keys()];
  }
  lstatSync(path: string): FileStats {
    return new MemoryStats(this.#lookup(path, "lstat"));
  }
  statSync(path: string): FileStats {
    return this.lstatSync(path);
  }
  readlinkSync(path: string): string {
    const node = this.#lookup(path, "readlink");
    if (node.target === undefined) throw fsError("EINVAL", "readlink", path);
    return node.target;
  }
  symlinkSync(target: string, path: string): void {
    this.#add(path, this.#node(S_IFLNK | 0o777, { target, size: new TextEncoder().encode(target).length }), "symlink");
  }
  unlinkSync(path: string): void {
    const { dir, name } = this.#parent(path, "unlink");
    const node = dir.children?.get(name);
    if (!node) throw fsError("ENOENT", "unlink", path);
    if (node.children) throw fsError("EISDIR", "unlink", path);
    node.nlink--;
    dir.children?.delete(name);
  }
  rmSync(path: string, options: RmOptions = {}): void {
    const node = this.#tryLookup(path);
    if (!node) {
      if (options.force) return;
      throw fsError("ENOENT", "rm", path);
    }
    if (node.children && node.children.size > 0 && !options.recursive) throw fsError("ENOTEMPTY", "rm", path);
    const { dir, name } = this.#parent(path, "rm");
    dir.children?.delete(name);
  }
  renameSync(from: string, to: string): void {
    const node = this.#lookup(from, "rename");
    const target = this.#tryLookup(to);
    if (target?.children && target.children.size > 0) throw fsError("ENOTEMPTY", "rename", to);
    const src = this.#parent(from, "rename");
    const dst = this.#parent(to, "rename");
    src.dir.children?.delete(src.name);
    dst.dir.children?.set(dst.name, node);
  }
  chmodSync(path: string, mode: number): void {
    const node = this.#lookup(path, "chmod");
    node.mode = (node.mode & 0o170000) | (mode & 0o7777);
  }
  utimesSync(path: string, _atime: number | Date, mtime: number | Date): void {
    this.#lookup(path, "utime").mtimeMs = typeof mtime === "number" ? mtime * 1000 : mtime.getTime();
  }
  copyFileSync(from: string, to: string): void {
    this.writeFileSync(to, this.readFileSync(from));
  }
  linkSync(existing: string, path: string): void {
    const node = this.#lookup(existing, "link");
    if (node.children) throw fsError("EPERM", "link", existing);
    this.#add(path, node, "link");
    node.nlink++;
  }
  existsSync(path: string): boolean {
    return this.#tryLookup(path) !== undefined;
  }
  openSync(path: string, flags: string, mode = 0o644): number {
    let node = this.#tryLookup(path);
    const writing = flags !== "r";
    if (node && flags.includes("x")) throw fsError("EEXIST", "open", path);
    if (!node) {
      if (!writing) throw fsError("ENOENT", "open", path);
      node = this.#node(S_IFREG | (mode & 0o7777), { data: new Uint8Array(0) });
      this.#add(path, node, "open");
    }
    if (node.children) throw fsError("EISDIR", "open", path);
    if (!writing && node.data === undefined) throw fsError(node.blob ? "EAGAIN" : "EINVAL", "open", path);
    if (writing && flags.startsWith("w")) Object.assign(node, { data: new Uint8Array(0), blob: undefined, size: 0 });
    const fd = this.#nextFd++;
    this.#fds.set(fd, { node, position: 0, writing });
    return fd;
  }
  #fd(fd: number): Fd {
    const open = this.#fds.get(fd);
    if (!open) throw fsError("EBADF", "read", String(fd));
    return open;
  }
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number {
    const open = this.#fd(fd);
    const data = open.node.data ?? new Uint8Array(0);
    const from = position ?? open.position;
    const n = Math.max(0, Math.min(length, open.node.size - from, data.length - from));
    buffer.set(data.subarray(from, from + n), offset);
    if (position === null) open.position += n;
    return n;
  }
  writeSync(fd: number, buffer: Uint8Array, offset = 0, length?: number, position?: number | null): number {
    const open = this.#fd(fd);
    const chunk = buffer.subarray(offset, offset + (length ?? buffer.length - offset));
    const at = position ?? open.position;
    const old = open.node.data ?? new Uint8Array(0);
    let data = old;
    if (at + chunk.length > old.length) {
      // grow geometrically: the receiver appends 32 KiB chunks
      data = new Uint8Array(Math.max(at + chunk.length, old.length * 2));
      data.set(old);
    }
    data.set(chunk, at);
    open.node.size = Math.max(open.node.size, at + chunk.length);
    open.node.data = data;
    if (position === undefined || position === null) open.position = at + chunk.length;
    return chunk.length;
  }
  fsyncSync(fd: number): void {
    this.#fd(fd);
  }
  closeSync(fd: number): void {
    const open = this.#fd(fd);
    if (open.writing && open.node.data && open.node.data.length !== open.node.size) {
      open.node.data = open.node.data.slice(0, open.node.size);
    }
    this.#fds.delete(fd);
    if (!open.writing && open.node.blob && this.#unloadAfterRead) open.node.data = undefined;
  }

  readFile(path: string): Promise<Uint8Array>;
  readFile(path: string, encoding: "utf8"): Promise<string>;
  async readFile(path: string, encoding?: "utf8"): Promise<Uint8Array | string> {
    await this.load(path);
    return encoding === "utf8" ? this.readFileSync(path, "utf8") : this.readFileSync(path);
  }
  writeFile = async (path: string, data: Uint8Array | string, options?: { mode?: number }): Promise<void> =>
    this.writeFileSync(path, data, options);
  mkdir = async (path: string, options?: MkdirOptions): Promise<unknown> => this.mkdirSync(path, options);
  readdir = async (path: string): Promise<string[]> => this.readdirSync(path);
  lstat = async (path: string): Promise<FileStats> => this.lstatSync(path);
  stat = async (path: string): Promise<FileStats> => this.statSync(path);
  readlink = async (path: string): Promise<string> => this.readlinkSync(path);
  symlink = async (target: string, path: string): Promise<void> => this.symlinkSync(target, path);
  unlink = async (path: string): Promise<void> => this.unlinkSync(path);
  rmdir = async (path: string): Promise<void> => {
    const node = this.#lookup(path, "rmdir");
    if (!node.children) throw fsError("ENOTDIR", "rmdir", path);
    this.rmSync(path);
  };
  rm = async (path: string, options?: RmOptions): Promise<void> => this.rmSync(path, options);
  rename = async (from: string, to: string): Promise<void> => this.renameSync(from, to);
  chmod = async (path: string, mode: number): Promise<void> => this.chmodSync(path, mode);
  utimes = async (path: string, atime: number | Date, mtime: number | Date): Promise<void> =>
    this.utimesSync(path, atime, mtime);
  copyFile = async (from: string, to: string): Promise<void> => {
    await this.load(from);
    this.copyFileSync(from, to);
  };
  link = async (existing: string, path: string): Promise<void> => this.linkSync(existing, path);
}
