/**
 * The one {@linkcode Backend} implementation: snapshot directories under a root on
 * any {@linkcode FileSystem}. Over `node:fs` it is the disk backend; over a `memfs`
 * volume, the memory backend.
 * @module
 */
import { FSCacheError } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import { joinPath } from "../core/path.ts";
import type { Backend } from "../core/types.ts";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Options for {@linkcode FsBackend}. */
export interface FsBackendOptions {
  /** Mode of new snapshot directories. Default `0o700`: snapshots may hold secrets. */
  dirMode?: number;
}

/**
 * Snapshot directories `root/<id>` on a file system.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * const backend = new FsBackend(fileSystemFrom(fs), "/var/cache/fscache/snapshots");
 * const dir = await backend.get("0a1b2c"); // created, mode 0700
 * ```
 */
export class FsBackend implements Backend {
  readonly fs: FileSystem;
  readonly root: string;
  readonly #dirMode: number;

  constructor(fs: FileSystem, root: string, options: FsBackendOptions = {}) {
    this.fs = fs;
    this.root = root;
    this.#dirMode = options.dirMode ?? 0o700;
  }

  async get(id: string): Promise<string> {
    const dir = this.#dirOf(id);
    await this.fs.mkdir(this.root, { recursive: true, mode: this.#dirMode });
    await this.fs.mkdir(dir, { recursive: true, mode: this.#dirMode });
    return dir;
  }

  async remove(id: string): Promise<void> {
    await this.fs.rm(this.#dirOf(id), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await this.fs.readdir(this.root)).filter((name) => ID_PATTERN.test(name));
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
