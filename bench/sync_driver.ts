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
import { FsBackend } from "../backends/fs_backend.ts";
import { nodeSha256 } from "../backends/node_sha256.ts";
import { fileSystemFrom } from "../core/file_system.ts";
import { FSCache } from "../core/fscache.ts";
import type { CacheUpdater, EntryStat, RecordedEntry, RecordedTree, Transport } from "../core/types.ts";
import { LocalTransport } from "../transports/local/local_transport.ts";
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

/** Column-wise on disk (few big arrays parse much faster than an array per entry). */
interface TreeFile {
  paths: string[];
  checksums: string[];
  /** mode, uid, gid, size, mtimeMs per entry. */
  stats: number[];
  links: Record<string, string>;
}

function loadTree(): MapTree | undefined {
  if (!fs.existsSync(treeFile)) return undefined;
  const file = JSON.parse(fs.readFileSync(treeFile, "utf8")) as TreeFile;
  const map = new Map<string, RecordedEntry>();
  const s = file.stats;
  file.paths.forEach((path, i) => {
    const o = i * 5;
    const stat: EntryStat = {
      mode: s[o] as number,
      uid: s[o + 1] as number,
      gid: s[o + 2] as number,
      size: s[o + 3] as number,
      mtimeMs: s[o + 4] as number,
    };
    const link = file.links[i];
    if (link !== undefined) stat.linkname = link;
    map.set(path, { checksum: file.checksums[i] as string, stat });
  });
  return new MapTree(map);
}

function saveTree(tree: Map<string, RecordedEntry>): void {
  const file: TreeFile = { paths: [], checksums: [], stats: [], links: {} };
  for (const [path, { checksum, stat: s }] of tree) {
    if (s?.linkname !== undefined) file.links[file.paths.length] = s.linkname;
    file.paths.push(path);
    file.checksums.push(checksum);
    file.stats.push(s?.mode ?? 0, s?.uid ?? 0, s?.gid ?? 0, s?.size ?? 0, s?.mtimeMs ?? 0);
  }
  fs.writeFileSync(`${treeFile}.tmp`, JSON.stringify(file));
  fs.renameSync(`${treeFile}.tmp`, treeFile);
}

const local = new LocalTransport();
let previous: MapTree | undefined;
let changed = 0;
let tree = new Map<string, RecordedEntry>();
const recording: Transport = {
  async copy(request) {
    previous = request.previous ? undefined : loadTree();
    // Changes are applied to the loaded map itself: the transport reads `previous`
    // during its walk and plan, before it reports anything.
    if (previous) tree = previous.map;
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
  sha256: nodeSha256,
});
cache.registerTransport("local", recording);
const key = `sync-${Date.now()}-${process.pid}`;
const source = await cache.syncFrom({ key, sharedKey: `local:${sourceDir}`, transport: "local", path: sourceDir });
if (changed > 0 || !previous) saveTree(tree);
// The source is not closed: releasing it starts a GC pass, which first walks the whole
// snapshot for its size (the cache does not yet take sizes from the change stream).
// `lastUsed` was already recorded when the sync ended.
void source;
await cache.close();
await local.close();
