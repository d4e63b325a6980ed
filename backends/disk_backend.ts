/**
 * Snapshots on the real disk: the shared {@linkcode FsBackend} over `node:fs`
 * (which Deno provides too) through `disk_fs.ts`, which keeps names that are not UTF-8,
 * under `<root>/snapshots`, with a `CACHEDIR.TAG` at the root so backup tools skip the
 * whole cache.
 * @module
 */
import { writeFileSync } from "node:fs";
import { joinPath } from "../core/path.ts";
import { checkCacheRoot, TAG_MARK } from "./_cache_root.ts";
import { diskFileSystem } from "./disk_fs.ts";
import { FsBackend } from "./fs_backend.ts";

/** The standard cache-directory tag (https://bford.info/cachedir/): the first line is the signature. */
export const CACHEDIR_TAG: string =
  "Signature: 8a477f597d28d172789f06886806bc55\n" +
  `${TAG_MARK}\n` +
  "# For information about cache directory tags, see:\n" +
  "#\thttps://bford.info/cachedir/\n";

/**
 * Snapshot directories `<root>/snapshots/<id>` (mode 0700) on the local disk.
 * Creating one makes `root` (0700) and its `CACHEDIR.TAG` if they are missing; a
 * directory holding other files is refused (`ERR_NOT_A_CACHE`, see `_cache_root.ts`).
 *
 * @example
 * ```ts
 * const backend = new DiskBackend("/var/cache/fscache");
 * const dir = await backend.get("0a1b2c"); // "/var/cache/fscache/snapshots/0a1b2c"
 * ```
 */
export class DiskBackend extends FsBackend {
  /** The cache root (the parent of `snapshots/`). */
  readonly cacheRoot: string;

  constructor(root: string) {
    // Absolute, so snapshot paths stay valid whatever the process's working directory becomes.
    const absolute = checkCacheRoot(root);
    super(diskFileSystem, joinPath(absolute, "snapshots"));
    this.cacheRoot = absolute;
    writeCacheDirTag(absolute);
  }
}

/** Writes `<root>/CACHEDIR.TAG` unless present; `wx` so two openers never clobber each other. */
function writeCacheDirTag(root: string): void {
  try {
    writeFileSync(joinPath(root, "CACHEDIR.TAG"), CACHEDIR_TAG, { flag: "wx", mode: 0o644 });
  } catch (err) {
    if ((err as { code?: unknown }).code !== "EEXIST") throw err;
  }
}
