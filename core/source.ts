/**
 * The handle `syncFrom` returns: one reference to a snapshot, released once.
 * @module
 */
import type { FileSystem } from "./file_system.ts";
import type { Source } from "./types.ts";

/** What a handle needs from the cache that made it. */
export interface SourceBinding {
  key: string;
  root: string;
  fs: FileSystem;
  hash(path: string): Promise<string>;
  release(): Promise<void>;
}

/**
 * One caller's reference to a snapshot. `close()` releases it; later calls do nothing,
 * so `await using` and an explicit `close()` can be combined safely.
 */
export class CachedSource implements Source {
  readonly key: string;
  readonly root: string;
  readonly fs: FileSystem;
  #binding: SourceBinding;
  #closed: Promise<void> | undefined;

  constructor(binding: SourceBinding) {
    this.key = binding.key;
    this.root = binding.root;
    this.fs = binding.fs;
    this.#binding = binding;
  }

  hash(path: string): Promise<string> {
    return this.#binding.hash(path);
  }

  close(): Promise<void> {
    this.#closed ??= this.#binding.release();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
