/**
 * Where `fscache push` keeps the listings of a tree it pushed (see
 * `transports/diffcopy/source_listings.ts`) until the next push of it: one file per
 * directory pushed, `listings/<hash of its absolute path>.json` in the cache root. A
 * hint, never a reason to fail: a file that cannot be read is no record, and one that
 * cannot be saved is not.
 * @module
 */
import * as nodeFs from "node:fs";
import process from "node:process";
import { checkCacheRoot, LISTINGS_DIR } from "../backends/_cache_root.ts";
import { sha256Hex } from "../backends/node_sha256.ts";
import { SourceListings } from "../transports/diffcopy/source_listings.ts";

/**
 * The listings saved by the last push of `dir` (absolute) with cache root `root`, or
 * none.
 *
 * @example
 * ```ts
 * const listings = loadListings("/home/me/.cache/fscache", "/home/me/app");
 * ```
 */
export function loadListings(root: string, dir: string): SourceListings {
  let text: string | undefined;
  try {
    text = nodeFs.readFileSync(listingsFile(root, dir), "utf8");
  } catch {
    // none yet, or unreadable: the push reads every directory
  }
  return SourceListings.decode(text);
}

/**
 * Saves the listings of a push of `dir` for the next one: written beside and renamed
 * over the last, so that a concurrent push reads one whole file or the other. Not in a
 * directory that is not a cache root (`checkCacheRoot`); made there when missing.
 *
 * @example
 * ```ts
 * saveListings("/home/me/.cache/fscache", "/home/me/app", listings);
 * ```
 */
export function saveListings(root: string, dir: string, listings: SourceListings): void {
  const file = listingsFile(root, dir);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    checkCacheRoot(root);
    nodeFs.mkdirSync(`${root}/${LISTINGS_DIR}`, { recursive: true, mode: 0o700 });
    nodeFs.writeFileSync(temp, listings.encode(), { mode: 0o600 });
    nodeFs.renameSync(temp, file);
  } catch {
    try {
      nodeFs.rmSync(temp, { force: true });
    } catch {
      // left for the next save of this directory to write over
    }
  }
}

function listingsFile(root: string, dir: string): string {
  const name = sha256Hex(dir).slice(0, 32);
  return `${root}/${LISTINGS_DIR}/${name}.json`;
}
