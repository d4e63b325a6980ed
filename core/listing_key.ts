/**
 * A directory's listing key: what lets a repeat walk take a directory's entries from
 * what an earlier walk recorded instead of reading the directory again. Every change
 * to a directory's entries moves its status-change time (`ctime`), which no call can
 * set back; so a directory whose device, inode and `ctime` are as recorded holds the
 * entries recorded for it. The local transport keeps them in a sync's record
 * (`transports/local/recorded_listings.ts`), the push client in a file of its own
 * (`transports/diffcopy/source_listings.ts`).
 *
 * The key is a hash of the directory's device, inode, `ctime` and `mtime` and of the
 * walk's options. Two limits keep a key honest:
 * - A directory changed less than {@linkcode RACY_MS} before the walk began gets no
 *   key: a change right after the walk read it could fall in the same clock tick, and
 *   leave its `ctime` as recorded (as git's "racily clean" index entries).
 * - Only a file system that reports `ctimeMs` gets keys (the disk and `memfs` do).
 * @module
 */
import type { FileStats } from "./file_system.ts";

/**
 * How long before the walk began a directory must have last changed to get a key, in
 * ms: more than any clock tick of a file system's timestamps (whole seconds at worst,
 * as Deno's `node:fs` reports `ctime`), and than a file system clock lagging the
 * process clock.
 */
export const RACY_MS = 3000;

/** Room to read the four numbers a key hashes as eight 32-bit words. */
const bits = new Float64Array(4);
const words = new Uint32Array(bits.buffer);

/**
 * The listing key of a directory `stats` describes, for a walk with options hashed to
 * `salt` (see {@linkcode walkSalt}) that began at `walkStart` (ms since the epoch);
 * `NaN` when it cannot have one. Always a safe integer otherwise.
 *
 * @example
 * ```ts
 * const key = listingKeyOf(fs.lstatSync("/src/app/lib"), walkSalt({ excludes: [] }), Date.now());
 * ```
 */
export function listingKeyOf(stats: FileStats, salt: number, walkStart: number): number {
  const ctime = stats.ctimeMs;
  const settled = walkStart - RACY_MS;
  if (ctime === undefined || !(ctime < settled) || !(stats.mtimeMs < settled)) return Number.NaN;
  let a = salt ^ 0x9e3779b9;
  let b = salt ^ 0x85ebca6b;
  // Plain indexed loops: this runs once per directory of a walk, mostly before the JIT
  // has optimized it, where iterators over the values and words cost ~6 µs a call here.
  bits[0] = stats.dev;
  bits[1] = stats.ino;
  bits[2] = ctime;
  bits[3] = stats.mtimeMs;
  for (let i = 0; i < 8; i++) {
    const word = words[i] as number;
    a = mix(a ^ word);
    b = mix(b ^ Math.imul(word, 0xcc9e2d51));
  }
  // 21 bits of one hash above 32 of the other: any integer below 2^53.
  return (a >>> 11) * 2 ** 32 + (b >>> 0);
}

/**
 * A 32-bit hash of the walk options that decide which entries a walk records.
 *
 * @example
 * ```ts
 * walkSalt({ excludes: ["node_modules"] }) !== walkSalt({ excludes: [] }); // true
 * ```
 */
export function walkSalt(options: { excludes?: readonly string[]; followRootSymlink?: boolean }): number {
  const text = JSON.stringify([options.excludes ?? [], options.followRootSymlink !== false]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's finalizer: every input bit moves about half of the output bits. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}
