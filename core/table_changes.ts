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
    // Sets only (a first sync's 100k adds): sorted as they are, no map of paths. A stable
    // sort keeps a path's sets in order, so the last of each run of equal paths wins.
    const order = Array.from(changes.keys()).sort((a, b) =>
      compareWalkOrder((changes[a] as TableChange).path, (changes[b] as TableChange).path),
    );
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
  const added: [string, RecordedEntry][] = [];
  for (const [path, { seq, entry }] of sets) if (seq > deletedAt(path)) added.push([path, entry]);
  sortWalkOrder(added);
  return { added, setPaths: sets.keys(), deletes: deletes.keys() };
}

/**
 * Sorts entries into walk order. With `/` swapped for NUL (which no name holds) plain
 * string order is walk order as long as no character is a surrogate or above (where
 * UTF-16 and UTF-8 orders differ); only then the byte-wise comparison is used.
 */
function sortWalkOrder(entries: [string, RecordedEntry][]): void {
  if (entries.length < 2) return;
  if (entries.some(([path]) => /[\ud800-\uffff]/.test(path))) {
    entries.sort((x, y) => compareWalkOrder(x[0], y[0]));
    return;
  }
  const keyed = entries.map((entry) => ({ key: entry[0].replaceAll("/", "\0"), entry }));
  keyed.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  keyed.forEach(({ entry }, i) => {
    entries[i] = entry;
  });
}
