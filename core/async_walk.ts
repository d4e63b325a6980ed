/**
 * The inline scan over the promise methods only, for file systems whose synchronous
 * methods throw ({@linkcode FileSystem.asyncOnly}: a browser's OPFS on a page's main
 * thread). Each call is awaited, so this walk is far slower than the synchronous one;
 * it exists because there is no other way (`snapshot_size.ts` has the size's).
 * @module
 */
import { entryStatOf, headerFromStats, startEntryChecksum } from "./entry_checksum.ts";
import { FSCacheError } from "./errors.ts";
import type { FileSystem } from "./file_system.ts";
import { HashTree } from "./hash_tree.ts";
import { joinPath } from "./path.ts";
import type { Sha256Factory } from "./types.ts";

/**
 * A full scan (SPEC §4.3) with awaited calls. A regular file is read whole with
 * `readFile` (the interface has no asynchronous chunked read), one at a time.
 *
 * @example
 * ```ts
 * const tree = await scanAsync(opfs, "/snapshots/ab12", sha256);
 * tree.hash("."); // "dir:…"
 * ```
 */
export async function scanAsync(
  fs: FileSystem,
  root: string,
  sha256: Sha256Factory,
  signal?: AbortSignal,
): Promise<HashTree> {
  const tree = new HashTree(sha256);
  const stack = ["."];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const name of await fs.readdir(joinPath(root, dir))) {
      signal?.throwIfAborted();
      const path = dir === "." ? name : `${dir}/${name}`;
      const full = joinPath(root, path);
      const stats = await fs.lstat(full);
      const link = stats.isSymbolicLink() ? await fs.readlink(full) : undefined;
      const header = headerFromStats(path, stats, link);
      if (!header) continue;
      const hash = startEntryChecksum(sha256, header);
      if (header.typeflag === "0" && stats.size > 0) {
        const content = await fs.readFile(full);
        // Hash exactly the size the header announced, so header and content agree.
        if (content.length < stats.size) {
          throw new FSCacheError("ERR_SOURCE_CHANGED", `file shrank while it was hashed: ${full}`, { path: full });
        }
        hash.update(content.length === stats.size ? content : content.subarray(0, stats.size));
      }
      tree.apply("add", path, hash.digest(), entryStatOf(stats, header.size, link));
      if (stats.isDirectory()) stack.push(path);
    }
  }
  signal?.throwIfAborted();
  return tree;
}
