/**
 * A batch of changes to a recorded table reduced to what it leaves: the entries set
 * last, in walk order, and the paths set or deleted.
 * @module
 */
import { compareWalkOrder } from "./names.ts";
import type { ChangeKind, EntryStat, RecordedEntry } from "./types.ts";

/** One change as the cache records it (already validated by the updater). */
export interface TableChange {
  kind: ChangeKind;
  path: string;
  checksum?: string;
  stat?: EntryStat;
}

/**
 * What `changes` leave, in walk order: the entries set last (and not deleted after),
 * every path that was set, and every path deleted.
 *
 * @example
 * ```ts
 * finalEntries([{ kind: "add", path: "b", checksum: x }, { kind: "add", path: "a", checksum: y }]).added;
 * // [["a", { checksum: y }], ["b", { checksum: x }]]
 * ```
 */
export function finalEntries(changes: readonly TableChange[]): {
  added: [string, RecordedEntry][];
  setPaths: Iterable<string>;
  deletes: Iterable<string>;
} {
  const entryOf = (c: TableChange): RecordedEntry =>
    c.stat === undefined ? { checksum: c.checksum as string } : { checksum: c.checksum as string, stat: c.stat };
  if (!changes.some((c) => c.kind === "delete")) {
    // Sets only (a resync that deleted nothing): sorted as they are, no map of paths. A stable
    // sort keeps a path's sets in order, so the last of each run of equal paths wins.
    const order = walkOrderIndices(changes.map((c) => c.path));
    const added: [string, RecordedEntry][] = [];
    for (let k = 0; k < order.length; k++) {
      const c = changes[order[k] as number] as TableChange;
      if (k + 1 < order.length && (changes[order[k + 1] as number] as TableChange).path === c.path) continue;
      added.push([c.path, entryOf(c)]);
    }
    return { added, setPaths: added.map(([path]) => path), deletes: [] };
  }
  // Last set and last delete of each path, by position in `changes`.
  const sets = new Map<string, { seq: number; entry: RecordedEntry }>();
  const deletes = new Map<string, number>();
  changes.forEach((c, seq) => {
    if (c.kind === "delete") deletes.set(c.path, seq);
    else sets.set(c.path, { seq, entry: entryOf(c) });
  });
  /** The latest delete of `path` or an ancestor, or -1. */
  const deletedAt = (path: string): number => {
    let latest = deletes.get(path) ?? -1;
    for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
      latest = Math.max(latest, deletes.get(path.slice(0, slash)) ?? -1);
    }
    return latest;
  };
  const kept: [string, RecordedEntry][] = [];
  for (const [path, { seq, entry }] of sets) if (seq > deletedAt(path)) kept.push([path, entry]);
  const added = walkOrderIndices(kept.map(([path]) => path)).map((i) => kept[i] as [string, RecordedEntry]);
  return { added, setPaths: sets.keys(), deletes: deletes.keys() };
}

/**
 * The indices of `paths` in walk order, equal paths in the order given. Changes come
 * nearly in walk order, where the sort's runs make this a few comparisons per path
 * (~50 ms for 100k); sorting keys made by swapping `/` for NUL was slower, as making
 * the keys alone cost as much.
 *
 * @example
 * ```ts
 * walkOrderIndices(["a.b", "a/b", "a"]); // [2, 1, 0]
 * ```
 */
export function walkOrderIndices(paths: readonly string[]): number[] {
  return Array.from(paths.keys()).sort((a, b) => compareWalkOrder(paths[a] as string, paths[b] as string));
}
