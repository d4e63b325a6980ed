/**
 * What a recorded table's entries hold in bytes, counted as `HashTree.contentSize`
 * counts them: the content of regular files and the names symlinks point to.
 * @module
 */
import { encodeName } from "./names.ts";
import { TABLE_STAT_FIELDS } from "./table_columns.ts";
import type { EntryStat } from "./types.ts";

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * Bytes the entries in columns hold; `undefined` when an entry has no stat, is a hard
 * link (a regular file with a link name), or a directory is only implied by entries
 * below it.
 *
 * @example
 * ```ts
 * countContent(table.paths, table.stats, table.links); // 1234
 * ```
 */
export function countContent(
  paths: readonly string[],
  s: Float64Array,
  links: ReadonlyMap<number, string>,
): number | undefined {
  let total = 0;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i] as string;
    const slash = path.lastIndexOf("/");
    // Walk order puts a directory's entry before everything below it, so an entry's
    // parent is an entry exactly when the entry before is that parent or below it.
    if (slash >= 0 && !isParentOrBelow(paths[i - 1], path, slash)) return undefined;
    const mode = s[i * TABLE_STAT_FIELDS] as number;
    if (Number.isNaN(mode)) return undefined;
    const type = mode & S_IFMT;
    if (type === S_IFREG) total += s[i * TABLE_STAT_FIELDS + 3] as number;
  }
  for (const [i, link] of links) {
    const type = (s[i * TABLE_STAT_FIELDS] as number) & S_IFMT;
    if (type === S_IFREG) return undefined;
    if (type === S_IFLNK) total += encodeName(link).length;
  }
  return total;
}

/**
 * What an entry with `stat` adds to the content size; `undefined` when it makes the
 * size inexact.
 *
 * @example
 * ```ts
 * contentOfStat({ mode: 0o100644, uid: 0, gid: 0, size: 5, mtimeMs: 0 }); // 5
 * ```
 */
export function contentOfStat(stat: EntryStat | undefined): number | undefined {
  if (!stat) return undefined;
  const type = stat.mode & S_IFMT;
  if (type === S_IFREG) return stat.linkname === undefined ? stat.size : undefined;
  if (type === S_IFLNK) return encodeName(stat.linkname ?? "").length;
  return 0;
}

/**
 * What entry `i` of columns adds to the content size of a table whose size is exact.
 *
 * @example
 * ```ts
 * contentOfEntry(table.stats, table.links, 0); // 5
 * ```
 */
export function contentOfEntry(stats: Float64Array, links: ReadonlyMap<number, string>, i: number): number {
  const type = (stats[i * TABLE_STAT_FIELDS] as number) & S_IFMT;
  if (type === S_IFREG) return stats[i * TABLE_STAT_FIELDS + 3] as number;
  if (type === S_IFLNK) return encodeName(links.get(i) ?? "").length;
  return 0;
}

/**
 * Whether `before` is the directory `path[0, slash)` or lies below it: `path`'s first
 * `slash` characters, then the end or a `/`.
 */
function isParentOrBelow(before: string | undefined, path: string, slash: number): boolean {
  if (before === undefined || before.length < slash) return false;
  if (before.length > slash && before.charCodeAt(slash) !== 0x2f) return false;
  for (let k = slash - 1; k >= 0; k--) if (before.charCodeAt(k) !== path.charCodeAt(k)) return false;
  return true;
}
