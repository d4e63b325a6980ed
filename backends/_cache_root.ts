/**
 * What may serve as a cache root on disk. fscache owns its root: at open it removes
 * snapshot directories no record claims and meta files it cannot read. Pointed at a
 * directory of someone else's files by mistake (`--root .`, an empty string that
 * resolves to the working directory), that would delete them; so such a root is
 * refused before anything is written there.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { FSCacheError } from "../core/errors.ts";

/** The comment line of the `CACHEDIR.TAG` fscache writes, which marks a root as its own. */
export const TAG_MARK = "# This file is a cache directory tag created by fscache.";

/** The directory of a root where `fscache push` keeps the listings of the trees it pushed. */
export const LISTINGS_DIR = "listings";

/** Names fscache itself makes at a root (the lock's temp and stale files included). */
const OWN_NAMES = new RegExp(
  `^(?:CACHEDIR\\.TAG|lock|${LISTINGS_DIR}|meta|snapshots|lock\\.\\d+\\.\\d+\\.(?:tmp|stale))$`,
);

/**
 * The absolute path of `root`, once it is known to be usable as a cache root: missing
 * (it is made now), empty, holding only what fscache makes, or tagged by fscache.
 * Throws `ERR_INVALID_OPTION` for an empty path, `ENOTDIR` for a file and
 * `ERR_NOT_A_CACHE` for a directory holding anything else.
 *
 * @example
 * ```ts
 * checkCacheRoot("/var/cache/fscache"); // "/var/cache/fscache"
 * checkCacheRoot("."); // throws ERR_NOT_A_CACHE in a project directory
 * ```
 */
export function checkCacheRoot(root: string): string {
  if (typeof root !== "string" || root === "") {
    throw new FSCacheError("ERR_INVALID_OPTION", "cache root must be a non-empty path");
  }
  const absolute = resolve(root);
  let names: string[];
  try {
    names = readdirSync(absolute);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT") {
      makeDirs(absolute);
      return absolute;
    }
    if (code === "ENOTDIR") {
      throw new FSCacheError("ENOTDIR", `cache root is not a directory: ${absolute}`, { path: absolute, cause: err });
    }
    throw err;
  }
  if (names.every((name) => OWN_NAMES.test(name)) || taggedByUs(absolute)) return absolute;
  throw new FSCacheError(
    "ERR_NOT_A_CACHE",
    `${absolute} holds other files and is not an fscache cache root; fscache deletes what it does not ` +
      "recognise in its root, so give it an empty or new directory",
    { path: absolute },
  );
}

/**
 * Makes `dir` and its missing parents (0700), one `mkdir` each: Node's recursive
 * `mkdirSync` never returns for a path below `/proc` (it retries for ever), where this
 * fails with the `mkdir` error and the path.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !existsSync(at); at = at.slice(0, at.lastIndexOf("/")) || "/") missing.push(at);
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if ((err as { code?: unknown }).code === "EEXIST") continue;
      const code = (err as { code?: string }).code ?? "ERR_INVALID_OPTION";
      throw new FSCacheError(code, `cannot make the cache root ${dir}: ${(err as Error).message}`, {
        path,
        cause: err,
      });
    }
  }
}

function taggedByUs(root: string): boolean {
  try {
    return readFileSync(`${root}/CACHEDIR.TAG`, "utf8").includes(TAG_MARK);
  } catch {
    return false;
  }
}
