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

/** Path → stat (absent when the record does not know it), in walk order. */
export type Snapshot = Map<string, EntryStat | undefined>;

/**
 * Walks `dest` with `lstat`, synchronously (one awaited call per entry would cost ~50 µs).
 *
 * @example
 * ```ts
 * const have = snapshotFromDisk(fs, "/srv/snap/1");
 * have.get("src/main.ts")?.size;
 * ```
 */
export function snapshotFromDisk(fs: FileSystem, dest: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(joinPath(dest, rel)).sort(compareWalkOrder)) {
      const path = rel === "." ? name : `${rel}/${name}`;
      const full = joinPath(dest, path);
      const st = fs.lstatSync(full);
      const entry: EntryStat = { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) entry.linkname = fs.readlinkSync(full);
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
  const out: Snapshot = new Map();
  if (previous instanceof RecordedTable) {
    // Straight from the columns: no entry object or hex checksum per path (100k of them).
    const paths = previous.paths;
    for (let i = 0; i < paths.length; i++) out.set(paths[i] as string, previous.stat(i));
    return out;
  }
  for (const [path, entry] of previous.entries()) out.set(path, entry.stat);
  return out;
}
