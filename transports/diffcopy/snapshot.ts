/**
 * What the destination holds before a receive: a map of path → stat, either walked
 * from the directory itself (never following symlinks) or taken from the cache's
 * record of the last successful sync. Both come out in walk order.
 * @module
 */
import type { FileSystem } from "../../core/file_system.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { RecordedTable } from "../../core/recorded_table.ts";
import type { EntryStat, RecordedTree } from "../../core/types.ts";
import { earlierPathOf } from "./source_walker.ts";

/**
 * Path → stat (absent when the record does not know it), in walk order: a `Map`, or a
 * view of a recorded table.
 */
export interface Snapshot extends Iterable<[string, EntryStat | undefined]> {
  readonly size: number;
  get(path: string): EntryStat | undefined;
  has(path: string): boolean;
  keys(): Iterable<string>;
}

/**
 * Walks `dest` with `lstat`, synchronously (one awaited call per entry would cost ~50 µs).
 *
 * @example
 * ```ts
 * const have = snapshotFromDisk(fs, "/srv/snap/1");
 * have.get("src/main.ts")?.size;
 * ```
 */
export function snapshotFromDisk(fs: FileSystem, dest: string): Map<string, EntryStat | undefined> {
  const out = new Map<string, EntryStat | undefined>();
  // A file with more than one name is recorded as a recorded tree holds a received hard
  // link: the first path in walk order is the file, each later one links to it.
  const firstPaths = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(joinPath(dest, rel)).sort(compareWalkOrder)) {
      const path = rel === "." ? name : `${rel}/${name}`;
      const full = joinPath(dest, path);
      const st = fs.lstatSync(full);
      const entry: EntryStat = { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) entry.linkname = fs.readlinkSync(full);
      else if (st.isFile() && st.nlink > 1) {
        const first = earlierPathOf(firstPaths, `${st.dev}:${st.ino}`, path);
        if (first !== undefined) entry.linkname = first;
      }
      out.set(path, entry);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(".");
  return out;
}

/**
 * The snapshot as the cache recorded it after its last successful sync.
 *
 * @example
 * ```ts
 * const have = snapshotFromRecord(request.previous);
 * ```
 */
export function snapshotFromRecord(previous: RecordedTree): Snapshot {
  // Straight from the columns: no map, entry object or hex checksum per path (100k of them).
  if (previous instanceof RecordedTable) return new TableSnapshot(previous);
  const out = new Map<string, EntryStat | undefined>();
  for (const [path, entry] of previous.entries()) out.set(path, entry.stat);
  return out;
}

/**
 * A recorded table looked up by a cursor: the receiver asks for the incoming paths in
 * walk order, the table holds them in walk order, so each lookup moves the cursor a
 * step or two and no path is hashed (building a map of 100k paths took ~0.4 s of a
 * no-op push). A path before the cursor is looked up in the table's own index.
 */
class TableSnapshot implements Snapshot {
  readonly #table: RecordedTable;
  #at = 0;

  constructor(table: RecordedTable) {
    this.#table = table;
  }

  get size(): number {
    return this.#table.size;
  }

  get(path: string): EntryStat | undefined {
    const i = this.#seek(path);
    return i < 0 ? undefined : this.#table.stat(i);
  }

  has(path: string): boolean {
    return this.#seek(path) >= 0;
  }

  keys(): Iterable<string> {
    return this.#table.paths;
  }

  *[Symbol.iterator](): Iterator<[string, EntryStat | undefined]> {
    const paths = this.#table.paths;
    for (let i = 0; i < paths.length; i++) yield [paths[i] as string, this.#table.stat(i)];
  }

  #seek(path: string): number {
    const paths = this.#table.paths;
    let at = this.#at;
    if (at < paths.length && paths[at] === path) return at;
    // Behind the cursor, or the cursor at the end (lookups need not come in walk order: a
    // tar's entries come in the archive's order): a search of its own.
    if (at === paths.length || compareWalkOrder(paths[at] as string, path) > 0) return this.#table.indexOf(path);
    while (at < paths.length && compareWalkOrder(paths[at] as string, path) < 0) at++;
    // The cursor stays on a match (a `has` after a `get` of the same path finds it again).
    this.#at = at;
    return at < paths.length && paths[at] === path ? at : -1;
  }
}
