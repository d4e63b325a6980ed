/**
 * POSIX path helpers for paths inside a snapshot. The core never imports `node:path`,
 * and snapshot paths are always `/`-separated whatever the host.
 * @module
 */
import { FSCacheError } from "./errors.ts";

/**
 * Cleans a path relative to a snapshot root: `./a//b/` → `a/b`, `""`/`/` → `.`.
 * A leading `/` means the snapshot root, as in a Dockerfile `COPY`. Throws
 * `ERR_INVALID_PATH` when `..` would leave the root.
 *
 * @example
 * ```ts
 * cleanRelativePath("./a//b/"); // "a/b"
 * cleanRelativePath("a/../.."); // throws ERR_INVALID_PATH
 * ```
 */
export function cleanRelativePath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) {
        throw new FSCacheError("ERR_INVALID_PATH", `path escapes the snapshot root: ${JSON.stringify(path)}`, {
          path,
        });
      }
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.length === 0 ? "." : out.join("/");
}

/** Joins a directory and a cleaned relative path (`.` is the directory itself). */
export function joinPath(dir: string, relative: string): string {
  if (relative === "." || relative === "") return dir;
  return dir.endsWith("/") ? `${dir}${relative}` : `${dir}/${relative}`;
}
