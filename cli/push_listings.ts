/**
 * Where `fscache push` keeps the listings of a tree it pushed (see
 * `transports/diffcopy/source_listings.ts`) until the next push of it: one file per
 * directory pushed, in `listings/` in the cache root, named by its absolute path
 * escaped (`%2Fhome%2Fme%2Fapp.json`), or by a hash of it when that is too long or not
 * text. A hint, never a reason to fail: a file that cannot be read is no record, and
 * one that cannot be saved is not.
 * @module
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { pid } from "node:process";
import { checkCacheRoot, LISTINGS_DIR } from "../backends/_cache_root.ts";
import { sha256Hex } from "../backends/node_sha256.ts";
import { hasLoneSurrogate } from "../core/names.ts";
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
  const escaped = escapedFile(root, dir);
  const file = escaped ?? hashedFile(root, dir);
  let text = readOrUndefined(file);
  // Saved by an earlier version under the hash of the path: moved to today's name. Only
  // looked for when there is none, since hashing the path loads `node:crypto`.
  if (text === undefined && escaped !== undefined) {
    const legacy = hashedFile(root, dir);
    text = readOrUndefined(legacy);
    if (text !== undefined) {
      try {
        renameSync(legacy, escaped);
      } catch {
        // read again next time
      }
    }
  }
  return SourceListings.decode(text);
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    // none yet, or unreadable: the push reads every directory
    return undefined;
  }
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
  const file = escapedFile(root, dir) ?? hashedFile(root, dir);
  const temp = `${file}.${pid}.tmp`;
  try {
    checkCacheRoot(root);
    mkdirSync(`${root}/${LISTINGS_DIR}`, { recursive: true, mode: 0o700 });
    writeFileSync(temp, listings.encode(), { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {
      // left for the next save of this directory to write over
    }
  }
}

/** Longest escaped path used as a name (file names are at most 255 bytes). */
const MAX_ESCAPED = 200;

/**
 * The path escaped (one-to-one: `/` and every other character that is not a letter,
 * digit or one of `-_.!~*'()` as `%XX`), which needs no hash: `node:crypto` took 6–11 ms
 * of a push client's start here, and nothing else in the client needs it. `undefined`
 * for a path too long for that, or holding bytes that are not UTF-8: it is named by its
 * hash ({@linkcode hashedFile}).
 */
function escapedFile(root: string, dir: string): string | undefined {
  if (hasLoneSurrogate(dir)) return undefined;
  const escaped = encodeURIComponent(dir);
  return escaped.length > MAX_ESCAPED ? undefined : `${root}/${LISTINGS_DIR}/${escaped}.json`;
}

/** The name every listing had before (and a long path's still has): the path's SHA-256, in part. */
function hashedFile(root: string, dir: string): string {
  return `${root}/${LISTINGS_DIR}/${sha256Hex(dir).slice(0, 32)}.json`;
}
