/**
 * A transport that syncs from a folder the user picked in a browser: the `FileList`
 * of an `<input type="file" webkitdirectory>`, or a `FileSystemDirectoryHandle` from
 * `showDirectoryPicker()` (File System Access API). Like every fscache transport it
 * copies only what changed (a file whose size and mtime equal the recorded ones is
 * skipped without being read) and reports each change with its checksum, so the cache
 * never rescans the snapshot.
 * @module
 */
import { headerFromStats, startEntryChecksum } from "../core/entry_checksum.ts";
import { FSCacheError } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import { cleanRelativePath, joinPath } from "../core/path.ts";
import type { CopyRequest, EntryStat, Transport } from "../core/types.ts";

/** A picked file: what `<input webkitdirectory>` gives (`webkitRelativePath` starts with the folder's name). */
export interface PickedFile extends Blob {
  readonly name: string;
  readonly lastModified: number;
  readonly webkitRelativePath?: string;
}

/** A directory handle as `showDirectoryPicker()` gives it (the parts used here). */
export interface PickedDirectory {
  readonly kind: "directory";
  readonly name: string;
  values(): AsyncIterableIterator<
    PickedDirectory | { readonly kind: "file"; readonly name: string; getFile(): Promise<PickedFile> }
  >;
}

/** What can be synced: a picked folder's files, or a directory handle. */
export type PickedFolder = Iterable<PickedFile> | ArrayLike<PickedFile> | PickedDirectory;

/** What the last sync did. */
export interface FolderSyncSummary {
  added: number;
  modified: number;
  deleted: number;
  unchanged: number;
  bytesCopied: number;
}

/** A file system that writes and reads files in chunks (`OpfsFileSystem` does). */
interface StreamingFs extends FileSystem {
  writeStream(path: string, body: (w: { write(data: Uint8Array): Promise<void> }) => Promise<void>): Promise<void>;
  getFile(path: string): Promise<Blob>;
}

function isStreaming(fs: FileSystem): fs is StreamingFs {
  const candidate = fs as Partial<StreamingFs>;
  return typeof candidate.writeStream === "function" && typeof candidate.getFile === "function";
}

/** One entry of a picked folder. */
export type Wanted = { type: "dir" } | { type: "file"; file: PickedFile };

/**
 * Makes a snapshot equal to a picked folder. Set `transport.folder` before a sync, or
 * pass the folder per request as `id.folder`.
 *
 * @example
 * ```ts
 * const transport = new BrowserFolderTransport();
 * cache.registerTransport("folder", transport);
 * input.onchange = async () => {
 *   transport.folder = input.files!;
 *   await using src = await cache.syncFrom({ key: crypto.randomUUID(), sharedKey: "picked", transport: "folder" });
 *   console.log(await src.hash("."), transport.lastSummary);
 * };
 * ```
 */
export class BrowserFolderTransport implements Transport {
  /** The folder the next sync copies (unless the request carries `folder`). */
  folder: PickedFolder | undefined;
  /** Counts of the last successful sync. */
  lastSummary: FolderSyncSummary | undefined;

  constructor(folder?: PickedFolder) {
    this.folder = folder;
  }

  async copy({ id, dest, fs, updater, signal, previous }: CopyRequest): Promise<void> {
    const folder = (id.folder as PickedFolder | undefined) ?? this.folder;
    if (!folder)
      throw new FSCacheError("ERR_INVALID_OPTION", "BrowserFolderTransport: no folder to sync", { key: id.key });
    const wanted = await listPicked(folder);
    updater.markSupported(true);
    const summary: FolderSyncSummary = { added: 0, modified: 0, deleted: 0, unchanged: 0, bytesCopied: 0 };
    // The recorded tree says what the snapshot holds without a walk of it; only a new,
    // stale or unrecorded snapshot is listed (each call is a round trip on OPFS).
    const existing = fromRecorded(previous) ?? (await listDest(fs, dest));
    const last: { template?: Template } = {};
    for (const [path, type] of existing) {
      const want = wanted.get(path);
      if (want && want.type === type) continue;
      if (isBelowDeleted(path, existing, wanted)) continue; // went with its parent
      await fs.rm(joinPath(dest, path), { recursive: true, force: true });
      updater.handleChange("delete", path);
      summary.deleted++;
    }
    for (const [path, want] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      signal.throwIfAborted();
      const had = existing.get(path) === want.type;
      const recorded = had ? previous?.get(path)?.stat : undefined;
      if (recorded && unchanged(recorded, want)) {
        summary.unchanged++;
        continue;
      }
      const full = joinPath(dest, path);
      let checksum: string;
      let stat: EntryStat;
      if (want.type === "dir") {
        if (!had) await fs.mkdir(full, { recursive: true });
        const st = await fs.lstat(full);
        const header = headerFromStats(path, st);
        checksum = startEntryChecksum(updater.sha256, header!).digest();
        stat = { mode: st.mode, uid: st.uid, gid: st.gid, size: 0, mtimeMs: st.mtimeMs };
      } else {
        ({ checksum, stat } = await writeFile(fs, full, path, want.file, updater.sha256, signal, last));
        summary.bytesCopied += want.file.size;
      }
      updater.handleChange(had ? "modify" : "add", path, checksum, stat);
      if (had) summary.modified++;
      else summary.added++;
    }
    this.lastSummary = summary;
  }
}

/** Same size and mtime as recorded: taken as unchanged without reading it (as `docker build` does). */
function unchanged(recorded: EntryStat, want: Wanted): boolean {
  if (want.type === "dir") return (recorded.mode & 0o170000) === 0o040000;
  return recorded.size === want.file.size && recorded.mtimeMs === want.file.lastModified;
}

/** Mode and owner of the last file written in a copy: what the next new file will likely get. */
interface Template {
  mode: number;
  uid: number;
  gid: number;
}

/** Writes one file and hashes it as written: header (from the written entry's stat) then content. */
async function writeFile(
  fs: FileSystem,
  full: string,
  path: string,
  file: PickedFile,
  sha256: CopyRequest["updater"]["sha256"],
  signal: AbortSignal,
  last: { template?: Template },
): Promise<{ checksum: string; stat: EntryStat }> {
  let hash: ReturnType<typeof sha256> | undefined;
  let st: Awaited<ReturnType<FileSystem["lstat"]>>;
  if (isStreaming(fs)) {
    // One writable per file (each costs the browser a swap file), never whole in memory.
    // The header must be hashed before the content, but the mode and owner are known
    // only once the file exists: they are predicted from the file written before (all
    // alike on OPFS), hashed while streaming, and checked after; a wrong guess (or the
    // first file) is hashed again from what was written.
    const guess = last.template;
    if (guess) hash = startEntryChecksum(sha256, headerFromStats(path, statsLike(guess, file.size))!);
    const reader = file.stream().getReader();
    await fs.writeStream(full, async (w) => {
      for (;;) {
        signal.throwIfAborted();
        const { done, value } = await reader.read();
        if (done) break;
        hash?.update(value);
        await w.write(value);
      }
    });
    st = await fs.lstat(full);
    last.template = { mode: st.mode, uid: st.uid, gid: st.gid };
    if (!guess || guess.mode !== st.mode || guess.uid !== st.uid || guess.gid !== st.gid) {
      hash = startEntryChecksum(sha256, headerFromStats(path, st)!);
      const back = (await fs.getFile(full)).stream().getReader();
      for (;;) {
        const { done, value } = await back.read();
        if (done) break;
        hash.update(value);
      }
    }
  } else {
    const content = new Uint8Array(await file.arrayBuffer());
    await fs.writeFile(full, content);
    st = await fs.lstat(full);
    hash = startEntryChecksum(sha256, headerFromStats(path, st)!);
    hash.update(content);
  }
  if (st.size !== file.size) {
    throw new FSCacheError("ERR_SOURCE_CHANGED", `file changed while it was copied: ${path}`, { path });
  }
  return {
    checksum: (hash as ReturnType<typeof sha256>).digest(),
    stat: { mode: st.mode, uid: st.uid, gid: st.gid, size: file.size, mtimeMs: file.lastModified },
  };
}

function statsLike(t: Template, size: number): Awaited<ReturnType<FileSystem["lstat"]>> {
  const type = t.mode & 0o170000;
  return {
    ...t,
    size,
    mtimeMs: 0,
    ino: 0,
    dev: 0,
    rdev: 0,
    nlink: 1,
    isFile: () => type === 0o100000,
    isDirectory: () => type === 0o040000,
    isSymbolicLink: () => type === 0o120000,
  };
}

/**
 * Every entry of the picked folder, its directories implied by its files' paths.
 *
 * @example
 * ```ts
 * for (const [path, entry] of await listPicked(input.files!)) console.log(path, entry.type);
 * ```
 */
export async function listPicked(folder: PickedFolder): Promise<Map<string, Wanted>> {
  const out = new Map<string, Wanted>();
  const addParents = (path: string) => {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) out.set(parts.slice(0, i).join("/"), { type: "dir" });
  };
  if (isDirectoryHandle(folder)) {
    const walk = async (dir: PickedDirectory, prefix: string) => {
      for await (const entry of dir.values()) {
        const path = cleanRelativePath(prefix + entry.name);
        if (entry.kind === "directory") {
          out.set(path, { type: "dir" });
          await walk(entry, `${path}/`);
        } else out.set(path, { type: "file", file: await entry.getFile() });
      }
    };
    await walk(folder, "");
    return out;
  }
  for (const file of Array.from(folder as ArrayLike<PickedFile>)) {
    const relative = file.webkitRelativePath ? file.webkitRelativePath : file.name;
    // `webkitRelativePath` starts with the picked folder's own name: the snapshot root.
    const path = cleanRelativePath(file.webkitRelativePath ? relative.slice(relative.indexOf("/") + 1) : relative);
    if (path === ".") continue;
    addParents(path);
    out.set(path, { type: "file", file });
  }
  return out;
}

function isDirectoryHandle(folder: PickedFolder): folder is PickedDirectory {
  return (
    (folder as { kind?: unknown }).kind === "directory" && typeof (folder as PickedDirectory).values === "function"
  );
}

/** The entries of a recorded tree with their types; `undefined` when a stat is missing. */
function fromRecorded(previous: CopyRequest["previous"]): Map<string, Wanted["type"]> | undefined {
  if (!previous) return undefined;
  const out = new Map<string, Wanted["type"]>();
  for (const [path, entry] of previous.entries()) {
    if (!entry.stat) return undefined;
    out.set(path, (entry.stat.mode & 0o170000) === 0o040000 ? "dir" : "file");
  }
  return out;
}

/** Every entry below `root` with its type, parents before children. */
async function listDest(fs: FileSystem, root: string): Promise<Map<string, Wanted["type"]>> {
  const out = new Map<string, Wanted["type"]>();
  const walk = async (rel: string) => {
    for (const name of (await fs.readdir(joinPath(root, rel))).sort()) {
      const path = rel === "." ? name : `${rel}/${name}`;
      if ((await fs.lstat(joinPath(root, path))).isDirectory()) {
        out.set(path, "dir");
        await walk(path);
      } else out.set(path, "file");
    }
  };
  await walk(".");
  return out;
}

/** True when an ancestor of `path` is deleted too (its removal took `path` along). */
function isBelowDeleted(path: string, existing: Map<string, Wanted["type"]>, wanted: Map<string, Wanted>): boolean {
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const parent = path.slice(0, i);
    const want = wanted.get(parent);
    if (!want || want.type !== existing.get(parent)) return true;
  }
  return false;
}
