/**
 * A transport that syncs from a plain tree description, for tests of services built
 * on fscache: it reports every change with its checksum, like a real transport, and
 * counts its transfers.
 * @module
 */
import { headerFromStats, startEntryChecksum } from "../core/entry_checksum.ts";
import { FSCacheError, isGone } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import { cleanRelativePath, joinPath } from "../core/path.ts";
import type { CopyRequest, Transport } from "../core/types.ts";

/** A regular file with an explicit mode. */
export interface FileSpec {
  content: string | Uint8Array;
  /** Permission bits; default `0o644`. */
  mode?: number;
}

/** A symbolic link. */
export interface SymlinkSpec {
  symlink: string;
}

/**
 * A tree: names ending in `/` are directories (their value is the subtree), other
 * values are file contents, `{ content, mode }` files, or `{ symlink }` links.
 *
 * @example
 * ```ts
 * const tree: TreeSpec = { "a.txt": "text", "dir/": { "b.txt": "b" }, "link": { symlink: "a.txt" } };
 * ```
 */
export interface TreeSpec {
  [name: string]: string | Uint8Array | FileSpec | SymlinkSpec | TreeSpec;
}

type Wanted =
  | { type: "dir" }
  | { type: "file"; content: Uint8Array; mode: number }
  | { type: "symlink"; target: string };

const encoder = new TextEncoder();

/**
 * Makes a snapshot equal to a {@linkcode TreeSpec}. The tree can be replaced between
 * syncs (`transport.tree = …`), or given per request as `id.tree`.
 *
 * @example
 * ```ts
 * const transport = new MemoryTransport({ "a.txt": "hello" });
 * cache.registerTransport("mem", transport);
 * await (await cache.syncFrom({ key: "k", transport: "mem" })).close();
 * transport.transfers; // 1
 * ```
 */
export class MemoryTransport implements Transport {
  /** The tree the next sync copies (unless the request carries `tree`). */
  tree: TreeSpec;
  /** Number of `copy` calls that ran. */
  transfers = 0;

  constructor(tree: TreeSpec = {}) {
    this.tree = tree;
  }

  async copy({ id, dest, fs, updater, signal }: CopyRequest): Promise<void> {
    this.transfers++;
    const wanted = flatten((id.tree as TreeSpec | undefined) ?? this.tree);
    updater.markSupported(true);
    // Promise methods only, so it also fills file systems without synchronous access (OPFS).
    const existing = await listTree(fs, dest);
    // Children sort after their parent, so deletions of a subtree come parent-first
    // (one rm) and additions parent-first (the directory exists before its files).
    for (const [path, type] of existing) {
      const want = wanted.get(path);
      if (want && want.type === type) continue;
      const kind = await kindOf(fs, joinPath(dest, path));
      if (kind === undefined) continue; // gone with a parent deleted before it
      // memfs's rm leaves a dangling symlink in place; unlink removes any link.
      if (kind === "symlink") await fs.unlink(joinPath(dest, path));
      else await fs.rm(joinPath(dest, path), { recursive: true, force: true });
      updater.handleChange("delete", path);
    }
    for (const [path, want] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (signal.aborted) throw signal.reason;
      const full = joinPath(dest, path);
      const had = existing.get(path) === want.type;
      if (had && !(await differs(fs, full, want))) continue;
      if (want.type === "dir") await fs.mkdir(full, { recursive: true });
      else if (want.type === "symlink") {
        // A link being retargeted: unlink, as memfs's rm leaves a link in place.
        if (had) await fs.unlink(full);
        await fs.symlink(want.target, full);
      } else {
        await fs.writeFile(full, want.content);
        await fs.chmod(full, want.mode);
      }
      const stats = await fs.lstat(full);
      const header = headerFromStats(path, stats, want.type === "symlink" ? want.target : undefined);
      if (!header) continue;
      const hash = startEntryChecksum(updater.sha256, header);
      if (want.type === "file") hash.update(want.content);
      updater.handleChange(had ? "modify" : "add", path, hash.digest());
    }
  }
}

function flatten(tree: TreeSpec, prefix = "", out = new Map<string, Wanted>()): Map<string, Wanted> {
  for (const [rawName, value] of Object.entries(tree)) {
    const isDir = rawName.endsWith("/");
    const path = cleanRelativePath(prefix + rawName);
    if (path === ".") throw new FSCacheError("ERR_INVALID_PATH", `tree entry has no name: ${JSON.stringify(rawName)}`);
    if (isDir) {
      out.set(path, { type: "dir" });
      flatten(value as TreeSpec, `${path}/`, out);
      continue;
    }
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : undefined;
    if (parent !== undefined && !out.has(parent)) flattenParents(parent, out);
    if (typeof value === "string" || value instanceof Uint8Array) {
      out.set(path, { type: "file", content: toBytes(value), mode: 0o644 });
    } else if ("symlink" in value && typeof value.symlink === "string") {
      out.set(path, { type: "symlink", target: value.symlink });
    } else if ("content" in value) {
      const spec = value as FileSpec;
      out.set(path, { type: "file", content: toBytes(spec.content), mode: spec.mode ?? 0o644 });
    } else {
      throw new FSCacheError("ERR_INVALID_PATH", `directory names must end in "/": ${JSON.stringify(rawName)}`, {
        path,
      });
    }
  }
  return out;
}

function flattenParents(dir: string, out: Map<string, Wanted>): void {
  const parts = dir.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join("/");
    if (!out.has(p)) out.set(p, { type: "dir" });
  }
}

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** Every entry below `root` with its type, parents before children. */
async function listTree(fs: FileSystem, root: string): Promise<Map<string, Wanted["type"]>> {
  const out = new Map<string, Wanted["type"]>();
  const walk = async (rel: string) => {
    for (const name of (await fs.readdir(joinPath(root, rel))).sort()) {
      const path = rel === "." ? name : `${rel}/${name}`;
      const stats = await fs.lstat(joinPath(root, path));
      if (stats.isDirectory()) {
        out.set(path, "dir");
        await walk(path);
      } else out.set(path, stats.isSymbolicLink() ? "symlink" : "file");
    }
  };
  await walk(".");
  return out;
}

async function kindOf(fs: FileSystem, path: string): Promise<Wanted["type"] | undefined> {
  try {
    const stats = await fs.lstat(path);
    return stats.isSymbolicLink() ? "symlink" : stats.isDirectory() ? "dir" : "file";
  } catch (err) {
    // Only "not there" means gone: any other failure (EIO, EACCES) read as gone would
    // leave the entry in place and report the sync complete.
    if (isGone(err)) return undefined;
    throw err;
  }
}

async function differs(fs: FileSystem, path: string, want: Wanted): Promise<boolean> {
  if (want.type === "dir") return false;
  if (want.type === "symlink") return (await fs.readlink(path)) !== want.target;
  const stats = await fs.lstat(path);
  if ((stats.mode & 0o7777) !== want.mode || stats.size !== want.content.length) return true;
  const have = await fs.readFile(path);
  return have.some((byte, i) => byte !== want.content[i]);
}
