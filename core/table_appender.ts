/**
 * Building a {@linkcode RecordedTable} from the entries a first sync reports, while it
 * reports them. Folding its 100k adds after the copy (each change an object, sorted,
 * then written into columns) cost ~0.3 s of the sync's tail. Written into growing
 * columns as they come instead, during the copy, when the calling thread mostly waits
 * for the copying threads, they leave the tail one sort of indices at most: the adds
 * come nearly in walk order (directories first, then files), but not quite.
 * @module
 */
import { compareWalkOrder } from "./names.ts";
import { allocateColumns, putEntry, RecordedTable, TABLE_STAT_FIELDS, type TableFilling } from "./recorded_table.ts";
import { walkOrderIndices } from "./table_changes.ts";
import type { EntryStat } from "./types.ts";

/**
 * Growing table columns that take entries in any order; a path added again replaces
 * what was added for it before.
 *
 * @example
 * ```ts
 * const appender = new TableAppender();
 * appender.add("b", sumB, undefined);
 * appender.add("a", sumA, undefined);
 * appender.finish().paths; // ["a", "b"]
 * ```
 */
export class TableAppender {
  #columns: TableFilling = allocateColumns(0);
  #size = 0;
  /** Whether every path so far came strictly after the one before, in walk order. */
  #inOrder = true;

  /** Entries added so far (a path added twice counts twice). */
  get size(): number {
    return this.#size;
  }

  /** Adds an entry (`checksum` sha256 hex, as the caller checked). */
  add(path: string, checksum: string, stat: EntryStat | undefined): void {
    const i = this.#size;
    if (i === this.#columns.paths.length) this.#grow();
    if (this.#inOrder && i > 0 && compareWalkOrder(this.#columns.paths[i - 1] as string, path) >= 0) {
      this.#inOrder = false;
    }
    putEntry(this.#columns, i, path, checksum, stat);
    this.#size = i + 1;
  }

  /** The table of the entries added, in walk order (the columns are handed over: add no more). */
  finish(): RecordedTable {
    const { paths, sums, stats, links } = this.#columns;
    const n = this.#size;
    paths.length = n;
    if (this.#inOrder) {
      return new RecordedTable({
        paths,
        sums: sums.subarray(0, n * 32),
        stats: stats.subarray(0, n * TABLE_STAT_FIELDS),
        links,
      });
    }
    // The sort is stable: of a run of equal paths, the last is the one added last.
    const order = walkOrderIndices(paths);
    const keep: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      if (k + 1 === n || paths[order[k + 1] as number] !== paths[i]) keep.push(i);
    }
    const out = allocateColumns(keep.length);
    for (let k = 0; k < keep.length; k++) {
      const i = keep[k] as number;
      out.paths[k] = paths[i] as string;
      const link = links.get(i);
      if (link !== undefined) out.links.set(k, link);
    }
    // Copied in runs of consecutive entries: nearly in order, there are few.
    for (let k = 0; k < keep.length; ) {
      const from = keep[k] as number;
      let j = k + 1;
      while (j < keep.length && keep[j] === from + (j - k)) j++;
      const to = from + (j - k);
      out.sums.set(sums.subarray(from * 32, to * 32), k * 32);
      out.stats.set(stats.subarray(from * TABLE_STAT_FIELDS, to * TABLE_STAT_FIELDS), k * TABLE_STAT_FIELDS);
      k = j;
    }
    return new RecordedTable(out);
  }

  #grow(): void {
    const old = this.#columns;
    const next = allocateColumns(Math.max(1024, old.paths.length * 2));
    for (let i = 0; i < this.#size; i++) next.paths[i] = old.paths[i] as string;
    next.sums.set(old.sums);
    next.stats.set(old.stats);
    next.links = old.links;
    this.#columns = next;
  }
}
