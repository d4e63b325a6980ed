/**
 * The one {@linkcode Backend} implementation: snapshot directories under a root on
 * any {@linkcode FileSystem}. Over `node:fs` it is the disk backend; over a `memfs`
 * volume, the memory backend.
 * @module
 */
import { FSCacheError } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import { Limiter } from "../core/limiter.ts";
import { joinPath } from "../core/path.ts";
import type { Backend } from "../core/types.ts";
import { REMOVE_IN_FLIGHT, removeTree } from "./remove_tree.ts";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Options for {@linkcode FsBackend}. */
export interface FsBackendOptions {
  /** Mode of new snapshot directories. Default `0o700`: snapshots may hold secrets. */
  dirMode?: number;
  /**
   * Removes a snapshot directory with everything in it (never following a symlink).
   * Default: {@linkcode removeTree}, a few calls in flight for all of this backend's
   * removals at once (node's recursive `rm` queues thousands at once for libuv's
   * threads, and every other call of the process waits behind them). A file system that
   * removes a tree in one call of its own (OPFS) is better served by that call.
   */
  removeDir?: (fs: FileSystem, dir: string) => Promise<void>;
}

/**
 * Snapshot directories `root/<id>` on a file system.
 *
 * @example
 * ```ts
 * const backend = new FsBackend(diskFileSystem, "/var/cache/fscache/snapshots");
 * const dir = await backend.get("0a1b2c"); // created, mode 0700
 * ```
 */
export class FsBackend implements Backend {
  readonly fs: FileSystem;
  readonly root: string;
  readonly #dirMode: number;
  readonly #removeDir: (fs: FileSystem, dir: string) => Promise<void>;
  /**
   * Ids whose directory this backend listed or made and has not removed: `get` returns
   * them without a `mkdir` (opening 10,000 sources would otherwise cost 20,000 awaited
   * calls). It trusts that nobody but this backend removes snapshot directories.
   */
  readonly #known = new Set<string>();
  #rootMade = false;

  constructor(fs: FileSystem, root: string, options: FsBackendOptions = {}) {
    this.fs = fs;
    this.root = root;
    this.#dirMode = options.dirMode ?? 0o700;
    const removals = new Limiter(REMOVE_IN_FLIGHT);
    this.#removeDir = options.removeDir ?? ((fs, dir) => removeTree(fs, dir, removals));
  }

  async get(id: string): Promise<string> {
    const dir = this.#dirOf(id);
    if (this.#known.has(id)) return dir;
    if (!this.#rootMade) {
      await this.fs.mkdir(this.root, { recursive: true, mode: this.#dirMode });
      this.#rootMade = true;
    }
    await this.fs.mkdir(dir, { recursive: true, mode: this.#dirMode });
    this.#known.add(id);
    return dir;
  }

  async remove(id: string): Promise<void> {
    const dir = this.#dirOf(id);
    this.#known.delete(id);
    await this.#removeDir(this.fs, dir);
  }

  async list(): Promise<string[]> {
    try {
      const ids = (await this.fs.readdir(this.root)).filter((name) => ID_PATTERN.test(name));
      for (const id of ids) this.#known.add(id);
      return ids;
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") return [];
      throw err;
    }
  }

  #dirOf(id: string): string {
    if (!ID_PATTERN.test(id)) {
      throw new FSCacheError("ERR_INVALID_PATH", `invalid snapshot id ${JSON.stringify(id)}`, { path: id });
    }
    return joinPath(this.root, id);
  }
}
