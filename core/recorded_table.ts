/**
 * A recorded tree in columns: paths in walk order, raw checksums and stats in typed
 * arrays. What a repeat sync needs of the last sync's tree — compare stats, list what
 * is gone, fold in the few changes, store it again, give the root checksum — takes one
 * pass over these columns; building the path trie of {@linkcode HashTree} for the same
 * 100k entries cost several times the sync itself. The trie is built only when a
 * caller asks for something only it answers (a sub-directory's checksum).
 * @module
 */
import { decodeDigestInput } from "./digest_input.ts";
import { type InputChange, spliceDigestInput } from "./digest_input_splice.ts";
import { compareWalkOrder } from "./names.ts";
import { isBelow } from "./path.ts";
import { digestInput } from "./root_digest.ts";
import { finalEntries, type TableChange } from "./table_changes.ts";
import {
  allocateColumns,
  LISTING_KEY_AT,
  putEntry,
  putFields,
  TABLE_STAT_FIELDS,
  type TableColumns,
} from "./table_columns.ts";
import { contentOfEntry, contentOfStat, countContent } from "./table_content_size.ts";
import type { EntryStat, RecordedEntry, RecordedTree, Sha256Factory } from "./types.ts";

export type { TableChange } from "./table_changes.ts";
export {
  allocateColumns,
  LISTING_KEY_AT,
  putEntry,
  TABLE_STAT_FIELDS,
  type TableColumns,
  type TableFilling,
} from "./table_columns.ts";

/** Two hex digits per byte value. */
const HEX = "0123456789abcdef";
const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => `${HEX[b >> 4]}${HEX[b & 15]}`);

/** What is known of a table's entries without looking at them (e.g. stored with them). */
export interface TableFacts {
  /** The root digest (hex, as {@linkcode RecordedTable.digest} gives it). */
  digest?: string;
  /** {@linkcode RecordedTable.contentSize}'s answer, `null` for `undefined`. */
  contentSize?: number | null;
}

/**
 * An immutable recorded tree in columns, entries in SPEC §5.2 walk order.
 *
 * @example
 * ```ts
 * const table = RecordedTable.fromEntries([["a", { checksum: sum }]]);
 * table.get("a")?.checksum === sum; // true
 * const next = table.withChanges([{ kind: "delete", path: "a" }]);
 * next.size; // 0
 * ```
 */
export class RecordedTable implements RecordedTree {
  readonly paths: string[];
  readonly sums: Uint8Array;
  readonly stats: Float64Array;
  readonly links: Map<number, string>;
  #index: Map<string, number> | undefined;
  #digest: string | undefined;
  /** The root digest's input, when known (see `digest_input.ts`). */
  #input: Uint8Array | undefined;
  /** How `#input` follows from the table this one was folded from, until it is made. */
  #inputChange: InputChange | undefined;
  /** `contentSize()`'s answer once known (`null` for `undefined`). */
  #contentSize: number | null | undefined;
  #sortedLinks: Uint32Array | undefined;
  #keyed: boolean | undefined;

  /**
   * `facts`, when given, are taken as is: they must describe exactly these entries (as
   * stored with them), so a table that nothing changed answers its root checksum and
   * content size without sorting, hashing or reading its entries.
   */
  constructor(columns: TableColumns, facts: TableFacts = {}) {
    this.paths = columns.paths;
    this.sums = columns.sums;
    this.stats = columns.stats;
    this.links = columns.links;
    this.#digest = facts.digest;
    this.#contentSize = facts.contentSize;
  }

  /** A table without entries. */
  static empty(): RecordedTable {
    return new RecordedTable({ paths: [], sums: new Uint8Array(0), stats: new Float64Array(0), links: new Map() });
  }

  /**
   * A table of entries given in strict walk order (as `HashTree.entries()` yields them),
   * with what is already known of them (see the constructor).
   */
  static fromEntries(entries: Iterable<[path: string, entry: RecordedEntry]>, facts: TableFacts = {}): RecordedTable {
    const list = [...entries];
    const columns = allocateColumns(list.length);
    list.forEach(([path, entry], i) => {
      putEntry(columns, i, path, entry.checksum, entry.stat);
    });
    return new RecordedTable(columns, facts);
  }

  /** `tree` itself when it is a table, else a table of its entries. */
  static from(tree: RecordedTree): RecordedTable {
    return tree instanceof RecordedTable ? tree : RecordedTable.fromEntries(tree.entries());
  }

  get size(): number {
    return this.paths.length;
  }

  /** Index of `path`, or -1. The path → index map is built on first use only. */
  indexOf(path: string): number {
    if (!this.#index) {
      this.#index = new Map();
      for (let i = 0; i < this.paths.length; i++) this.#index.set(this.paths[i] as string, i);
    }
    return this.#index.get(path) ?? -1;
  }

  /**
   * Index of `path`, or -1, by binary search: for a few lookups, where building
   * {@linkcode indexOf}'s map of every path would cost more.
   */
  search(path: string): number {
    const i = this.#lowerBound(path);
    return this.paths[i] === path ? i : -1;
  }

  get(path: string): RecordedEntry | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.entry(i);
  }

  /** The entry at index `i`, as a fresh object. */
  entry(i: number): RecordedEntry {
    const stat = this.stat(i);
    return stat === undefined ? { checksum: this.checksum(i) } : { checksum: this.checksum(i), stat };
  }

  /** The stat of entry `i`, if it was recorded with one. */
  stat(i: number): EntryStat | undefined {
    const o = i * TABLE_STAT_FIELDS;
    const s = this.stats;
    if (Number.isNaN(s[o])) return undefined;
    const stat: EntryStat = {
      mode: s[o] as number,
      uid: s[o + 1] as number,
      gid: s[o + 2] as number,
      size: s[o + 3] as number,
      mtimeMs: s[o + 4] as number,
    };
    const link = this.links.get(i);
    if (link !== undefined) stat.linkname = link;
    const key = s[o + LISTING_KEY_AT] as number;
    if (!Number.isNaN(key)) stat.listingKey = key;
    return stat;
  }

  /** The entry checksum of entry `i`, hex. */
  checksum(i: number): string {
    const sums = this.sums;
    let out = "";
    for (let b = i * 32; b < i * 32 + 32; b++) {
      out += HEX_PAIRS[sums[b] as number] as string;
    }
    return out;
  }

  *entries(): IterableIterator<[path: string, entry: RecordedEntry]> {
    for (let i = 0; i < this.paths.length; i++) yield [this.paths[i] as string, this.entry(i)];
  }

  /**
   * Bytes the entries hold, as `HashTree.contentSize` counts them: `undefined` when an
   * entry has no stat, is a hard link, or a directory is only implied by entries below it.
   * Counted once per table, unless it was given or followed from the table it was made from.
   */
  contentSize(): number | undefined {
    if (this.#contentSize === undefined) this.#contentSize = countContent(this.paths, this.stats, this.links) ?? null;
    return this.#contentSize ?? undefined;
  }

  /**
   * The root's `dir:` digest (hex, without the prefix): sha256 of every entry checksum,
   * sorted and comma-joined, exactly as `HashTree.hash(".")` computes it. Computed once
   * per table (tables are immutable; `withChanges` makes a new one that computes its own),
   * or given to the constructor.
   */
  digest(sha256: Sha256Factory): string {
    if (this.#digest !== undefined) return this.#digest;
    const hash = sha256();
    hash.update(this.#digestInput());
    this.#digest = hash.digest();
    return this.#digest;
  }

  /**
   * The root digest's input where it is known without sorting every checksum: made with
   * the digest, or taken from the store ({@linkcode adoptDigestInput}). For storing
   * beside the table, with `encodeDigestInput`.
   */
  knownDigestInput(): Uint8Array | undefined {
    return this.#input;
  }

  /**
   * Takes `stored` (`encodeDigestInput`'s bytes, as a `MetaStore` kept them) as this
   * table's digest input when it is intact and made for exactly this table's root
   * digest; returns whether it did. A table folded from this one then makes its own
   * input from it, instead of sorting every checksum.
   */
  adoptDigestInput(stored: Uint8Array): boolean {
    if (this.#input !== undefined || this.#digest === undefined) return false;
    this.#input = decodeDigestInput(stored, this.#digest, this.paths.length);
    return this.#input !== undefined;
  }

  /**
   * Lets go of the digest input (65 bytes an entry) once the digest is known: a table
   * kept in memory for an idle source takes it back from the store
   * ({@linkcode adoptDigestInput}) when the source is synced again.
   */
  forgetDigestInput(): void {
    if (this.#digest !== undefined) this.#input = undefined;
  }

  #digestInput(): Uint8Array {
    if (this.#input === undefined) {
      const change = this.#inputChange;
      this.#inputChange = undefined;
      this.#input = (change && spliceDigestInput(change)) || digestInput(this.sums, this.paths.length);
    }
    return this.#input;
  }

  /**
   * This table with `changes` applied in order, as `HashTree.apply` would: `add` and
   * `modify` set an entry, `delete` removes an entry and everything below it. Each
   * changed path is found by binary search and the entries between are copied in runs,
   * so a few changes to 100k entries cost no work per entry beyond copying it.
   */
  withChanges(changes: readonly TableChange[]): RecordedTable {
    if (changes.length === 0) return this;
    const { added, setPaths, deletes } = finalEntries(changes);
    // The content size follows from an exact old one: minus what goes, plus what comes
    // (a pass over every entry, on its first, unoptimized run, cost ~10 ms for 11k).
    let size = typeof this.#contentSize === "number" ? this.#contentSize : undefined;
    // Old entries that go: every set path (replaced, or deleted after it was set) and
    // every deleted path with what lies below it, a contiguous run in walk order.
    const n = this.paths.length;
    const gone = new Uint8Array(n);
    /** The entries in `gone`, in no particular order until sorted below. */
    const goneList: number[] = [];
    const drop = (i: number) => {
      if (gone[i] === 1) return;
      gone[i] = 1;
      goneList.push(i);
      if (size !== undefined) size -= contentOfEntry(this.stats, this.links, i);
    };
    /** Where each set path is or would go, found once (each search is ~17 walk-order comparisons). */
    const places = new Map<string, number>();
    /** Directories whose recorded children change: their listing keys no longer vouch for them. */
    const relisted = this.#hasListingKeys() ? new Set<string>() : undefined;
    for (const path of setPaths) {
      const i = this.#lowerBound(path);
      places.set(path, i);
      if (i < n && this.paths[i] === path) drop(i);
      else relisted?.add(parentOf(path));
    }
    for (const path of deletes) {
      let i = this.#lowerBound(path);
      if (i < n && this.paths[i] === path) {
        relisted?.add(parentOf(path));
        drop(i++);
      }
      for (; i < n && isBelow(this.paths[i] as string, path); i++) drop(i);
    }
    const skip = Uint32Array.from(goneList).sort();
    // Paths are not written into these columns: they come in slices (each a native
    // copy) and single new paths, joined at the end.
    const columns = allocateColumns(n - skip.length + added.length, []);
    const pieces: string[][] = [];
    let at = 0;
    let next = 0;
    /** Copies the old entries `[from, to)` that stay: the runs between the gone ones. */
    const keep = (from: number, to: number) => {
      let run = from;
      for (; next < skip.length && (skip[next] as number) < to; next++) {
        at = this.#copyRun(run, skip[next] as number, columns, at, pieces);
        run = (skip[next] as number) + 1;
      }
      at = this.#copyRun(run, to, columns, at, pieces);
    };
    let kept = 0;
    /** Where the added entries are in the new columns. */
    const addedAt: number[] = [];
    let exact = size !== undefined;
    const addedPaths = exact ? new Set(added.map(([path]) => path)) : undefined;
    for (const [path, entry] of added) {
      const i = places.get(path) as number;
      keep(kept, i);
      kept = i;
      pieces.push([path]);
      addedAt.push(at);
      putFields(columns, at++, entry.checksum, entry.stat);
      if (!exact) continue;
      // Entries that stay keep their parents (a delete takes a subtree whole): only a new
      // entry can lack one, or a stat, or be a hard link.
      const content = contentOfStat(entry.stat);
      const slash = path.lastIndexOf("/");
      const parent = slash < 0 ? undefined : path.slice(0, slash);
      if (content === undefined || (parent !== undefined && !addedPaths?.has(parent) && !this.#stays(parent, gone))) {
        exact = false;
      } else size = (size as number) + content;
    }
    keep(kept, n);
    const paths = joinPieces(pieces);
    // A listing key vouches for the children the walk that made it saw. A change of
    // children that does not record the directory again (another transport's sync into
    // the same snapshot) voids it; a directory recorded again brings its own.
    for (const dir of relisted ?? []) {
      if (dir === "" || places.has(dir)) continue;
      const i = lowerBound(paths, dir);
      if (paths[i] === dir) columns.stats[i * TABLE_STAT_FIELDS + LISTING_KEY_AT] = Number.NaN;
    }
    const table = new RecordedTable({ ...columns, paths }, exact ? { contentSize: size as number } : {});
    // Past a quarter of the entries changed, sorting them all anew costs about as much.
    if (this.#input !== undefined && (skip.length + addedAt.length) * 4 <= n) {
      table.#inputChange = {
        base: this.#input,
        removed: gatherSums(this.sums, skip),
        added: gatherSums(columns.sums, addedAt),
      };
    }
    return table;
  }

  /** Whether any entry has a listing key (computed once: tables are immutable). */
  #hasListingKeys(): boolean {
    if (this.#keyed === undefined) {
      const s = this.stats;
      this.#keyed = false;
      for (let o = 0; o < this.paths.length * TABLE_STAT_FIELDS; o += TABLE_STAT_FIELDS) {
        if (!Number.isNaN(s[o + LISTING_KEY_AT]) && !Number.isNaN(s[o])) {
          this.#keyed = true;
          break;
        }
      }
    }
    return this.#keyed;
  }

  /** Whether `path` is an entry that `gone` keeps. */
  #stays(path: string, gone: Uint8Array): boolean {
    const i = this.#lowerBound(path);
    return i < this.paths.length && this.paths[i] === path && gone[i] === 0;
  }

  /** Indices of the entries with a link name, ascending (computed once: tables are immutable). */
  #linkIndices(): Uint32Array {
    this.#sortedLinks ??= Uint32Array.from(this.links.keys()).sort();
    return this.#sortedLinks;
  }

  /** The index of the first entry not before `path` in walk order. */
  #lowerBound(path: string): number {
    return lowerBound(this.paths, path);
  }

  /**
   * Copies entries `[from, to)` to `columns` at `at`, their paths to `pieces`; returns
   * the next free index.
   */
  #copyRun(from: number, to: number, columns: TableColumns, at: number, pieces: string[][]): number {
    if (to <= from) return at;
    pieces.push(this.paths.slice(from, to));
    columns.sums.set(this.sums.subarray(from * 32, to * 32), at * 32);
    columns.stats.set(this.stats.subarray(from * TABLE_STAT_FIELDS, to * TABLE_STAT_FIELDS), at * TABLE_STAT_FIELDS);
    if (this.links.size > 0) {
      // By index, from the first at or after `from`: not every link for every run (a few
      // changes to a tree of many symlinks make as many runs).
      const indices = this.#linkIndices();
      let lo = 0;
      let hi = indices.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((indices[mid] as number) < from) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < indices.length && (indices[k] as number) < to; k++) {
        const i = indices[k] as number;
        columns.links.set(at + i - from, this.links.get(i) as string);
      }
    }
    return at + to - from;
  }
}

/** The index of the first of `paths` (in walk order) not before `path`. */
function lowerBound(paths: readonly string[], path: string): number {
  let lo = 0;
  let hi = paths.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareWalkOrder(paths[mid] as string, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The checksums (32 bytes each) of the entries at `indices`, one after the other. */
function gatherSums(sums: Uint8Array, indices: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(indices.length * 32);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    out.set(sums.subarray(i * 32, i * 32 + 32), k * 32);
  }
  return out;
}

/** The directory `path` is in (`""` for the root). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** The arrays of `pieces` one after the other, joined by native copies (a few thousand arrays at a time). */
function joinPieces(pieces: string[][]): string[] {
  if (pieces.length === 1) return pieces[0] as string[];
  let out: string[] = [];
  for (let k = 0; k < pieces.length; k += 4096) out = out.concat(...pieces.slice(k, k + 4096));
  return out;
}
