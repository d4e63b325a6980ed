/**
 * Snapshots in memory, on a `memfs` volume: for tests of fscache itself and of
 * services built on it.
 * @module
 */
import { Volume } from "memfs";
import { fileSystemFrom } from "../core/file_system.ts";
import { FsBackend } from "./fs_backend.ts";

/**
 * Snapshots in a `memfs` volume, under `/snapshots`. Pass a volume to share it.
 *
 * @example
 * ```ts
 * const backend = new MemoryBackend();
 * const dir = await backend.get("abc"); // "/snapshots/abc"
 * backend.volume.toJSON(); // inspect everything
 * ```
 */
export class MemoryBackend extends FsBackend {
  readonly volume: InstanceType<typeof Volume>;

  constructor(options: { volume?: InstanceType<typeof Volume> } = {}) {
    const volume = options.volume ?? new Volume();
    super(fileSystemFrom(volume), "/snapshots");
    this.volume = volume;
  }
}
