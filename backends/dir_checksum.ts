/**
 * The `dir:` checksum of a whole scan (SPEC §4.2: sha256 of the sorted, comma-joined
 * entry checksums) straight from the packed hex a scan produces, with no tree node
 * per entry: for `fscache checksum`, which needs nothing else.
 * @module
 */
import { hexPrefix, orderByPrefix } from "../core/checksum_order.ts";
import { sha256Hex } from "./node_sha256.ts";

const SUM = 64;

/**
 * `dir:` + the digest of every checksum in `packed` (each a string of 64-hex-digit
 * checksums one after the other), equal to `HashTree.hash(".")` of the same entries.
 *
 * @example
 * ```ts
 * dirChecksumOfPacked(["6ef733e2…6fbc54d9…"]); // "dir:7b1b21eb…"
 * ```
 */
export function dirChecksumOfPacked(packed: string[]): string {
  // One flat string; the per-entry work below stays in string built-ins (slice, join),
  // where copying bytes one call per entry cost ~5 µs an entry.
  const all = packed.join("");
  const n = Math.floor(all.length / SUM);
  const order = orderByPrefix(
    n,
    (i) => hexPrefix(all, i * SUM),
    (a, b) => compareSums(all, a, b),
  );
  const sorted = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const from = (order[i] as number) * SUM;
    sorted[i] = all.slice(from, from + SUM);
  }
  return `dir:${sha256Hex(sorted.join(","))}`;
}

function compareSums(all: string, a: number, b: number): number {
  const x = all.slice(a * SUM, a * SUM + SUM);
  const y = all.slice(b * SUM, b * SUM + SUM);
  return x < y ? -1 : x > y ? 1 : 0;
}
