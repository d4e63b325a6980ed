/**
 * One sync through FSCache in a fresh process, as the CLI will run it: open the cache
 * on disk, sync a directory under a shared key derived from its path, save state, exit.
 *
 * Usage: node sync_driver.js <cache-dir> <source-dir>
 *
 * Until the cache persists records and hash trees on disk and hands transports
 * `previous` itself, this driver does both: records in a small JSON file store, and the
 * tree recorded at the last sync in `<cache-dir>/tree.json`, passed as `previous`.
 */
import * as fs from "node:fs";
import process from "node:process";
import {
  type CacheUpdater,
  type EntryStat,
  FSCache,
  FsBackend,
  fileSystemFrom,
  LocalTransport,
  type RecordedEntry,
  type RecordedTree,
  type Transport,
} from "../mod.ts";
import { JsonFileMetaStore } from "./json_meta_store.ts";

const [cacheDir, sourceDir] = process.argv.slice(2);
if (!cacheDir || !sourceDir) {
  console.error("usage: sync_driver <cache-dir> <source-dir>");
  process.exit(2);
}
const treeFile = `${cacheDir}/tree.json`;

/** path → entry, as the cache's hash tree will keep it. */
class MapTree implements RecordedTree {
  constructor(readonly map: Map<string, RecordedEntry>) {}
  get size(): number {
    return this.map.size;
  }
  get(path: string): RecordedEntry | undefined {
    return this.map.get(path);
  }
  entries(): Iterable<[string, RecordedEntry]> {
    return this.map;
  }
}

type Row = [string, string, number, number, number, number, number, string?];

function loadTree(): MapTree | undefined {
  if (!fs.existsSync(treeFile)) return undefined;
  const rows = JSON.parse(fs.readFileSync(treeFile, "utf8")) as Row[];
  const map = new Map<string, RecordedEntry>();
  for (const [path, checksum, mode, uid, gid, size, mtimeMs, linkname] of rows) {
    const stat: EntryStat = { mode, uid, gid, size, mtimeMs };
    if (linkname !== undefined) stat.linkname = linkname;
    map.set(path, { checksum, stat });
  }
  return new MapTree(map);
}

function saveTree(tree: Map<string, RecordedEntry>): void {
  const rows: Row[] = [];
  for (const [path, { checksum, stat: s }] of tree) {
    const row: Row = [path, checksum, s?.mode ?? 0, s?.uid ?? 0, s?.gid ?? 0, s?.size ?? 0, s?.mtimeMs ?? 0];
    if (s?.linkname !== undefined) row.push(s.linkname);
    rows.push(row);
  }
  fs.writeFileSync(`${treeFile}.tmp`, JSON.stringify(rows));
  fs.renameSync(`${treeFile}.tmp`, treeFile);
}

const local = new LocalTransport();
let previous: MapTree | undefined;
let changed = 0;
const tree = new Map<string, RecordedEntry>();
const recording: Transport = {
  async copy(request) {
    previous = request.previous ? undefined : loadTree();
    if (previous) for (const [k, v] of previous.map) tree.set(k, v);
    const inner = request.updater;
    const updater: CacheUpdater = {
      sha256: inner.sha256,
      markSupported: (s) => inner.markSupported(s),
      handleChange(kind, path, checksum, stat) {
        changed++;
        inner.handleChange(kind, path, checksum, stat);
        if (kind !== "delete") tree.set(path, { checksum: checksum as string, stat });
        else for (const key of [...tree.keys()]) if (key === path || key.startsWith(`${path}/`)) tree.delete(key);
      },
    };
    await local.copy({ ...request, updater, previous: request.previous ?? previous });
  },
};

fs.mkdirSync(cacheDir, { recursive: true });
const cache = await FSCache.open({
  backend: new FsBackend(fileSystemFrom(fs), `${cacheDir}/snapshots`),
  metaStore: new JsonFileMetaStore(`${cacheDir}/records.json`),
  gcInterval: 0,
});
cache.registerTransport("local", recording);
const key = `sync-${Date.now()}-${process.pid}`;
const source = await cache.syncFrom({ key, sharedKey: `local:${sourceDir}`, transport: "local", path: sourceDir });
if (changed > 0 || !previous) saveTree(tree);
await source.close();
await cache.close();
await local.close();
