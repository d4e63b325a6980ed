/**
 * A tar stream imported as a snapshot, with diff-copy's rules (SPEC §5.3): a tar is
 * "a sender's entry list plus data", so every entry becomes a diff-copy `Stat`, goes
 * through the same {@linkcode StatValidator}, {@linkcode planChanges} and
 * {@linkcode SafeTree}. Tar entries come in any order while the validator wants walk
 * order, so content that must be written is spooled (hashed as it streams) into a
 * private temporary directory inside the destination, and the entry list is sorted,
 * validated and applied once the archive has ended. Entry checksums are computed from
 * the tar headers exactly as `fscache tarsum --entries` does — PAX `SCHILY.xattr.*`
 * records included, although they are not written to disk (no xattr call exists in
 * `node:fs` or Deno) and never make an entry differ from the snapshot's.
 * @module
 */
import { readTarEntries, type TarHeader, type TarInput } from "../../backends/tarsum_stream.ts";
import { type EntryHeader, startEntryChecksum } from "../../core/entry_checksum.ts";
import { FSCacheError } from "../../core/errors.ts";
import { compareWalkOrder, decodeName } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { planChanges, sameEntry } from "../diffcopy/diff.ts";
import { restoreDirTimes, touchedDirs } from "../diffcopy/dir_times.ts";
import { entryStatOf, headerOf } from "../diffcopy/entry_info.ts";
import { goModeFromPosix } from "../diffcopy/file_mode.ts";
import { stat as makeStat, type Stat } from "../diffcopy/packet.ts";
import type { ReceiveTarget } from "../diffcopy/receiver.ts";
import { SafeTree, TEMP_PREFIX } from "../diffcopy/safe_tree.ts";
import { type Snapshot, snapshotFromDisk, snapshotFromRecord } from "../diffcopy/snapshot.ts";
import {
  DEFAULT_RECEIVE_LIMITS,
  type IncomingEntry,
  type ReceiveLimits,
  StatValidator,
} from "../diffcopy/stat_validator.ts";
import { fileTime } from "../file_time.ts";
import { type ContentSink, fileContent } from "./file_content.ts";

/** What a tar import did. */
export interface TarImportResult {
  entries: number;
  added: number;
  modified: number;
  deleted: number;
  unchanged: number;
  /** Content bytes written to the snapshot (unchanged files are not rewritten). */
  bytesWritten: number;
}

interface TarItem {
  stat: Stat;
  /** Entry checksum from the tar header (and content). */
  checksum?: string;
  /** Spooled content, when the file differs from the snapshot's. */
  spool?: string;
  /** Bytes in `spool`: counted as written only once it is moved into the snapshot. */
  spoolBytes?: number;
  /** The snapshot's file already has this content (only its mode or mtime differ). */
  same?: boolean;
  /** Type, mode, size and mtime as the snapshot's, but not the content. */
  differs?: boolean;
  /** For hard links: the path of the regular file whose content they share. */
  root?: string;
}

/** `S`: an old GNU sparse file, a regular file once its holes are filled in. */
const TYPE_BITS: Record<string, number> = {
  "0": 0o100000,
  "7": 0o100000,
  S: 0o100000,
  "2": 0o120000,
  "5": 0o040000,
};

function reject(path: string, reason: string): never {
  throw new FSCacheError("ERR_PROTOCOL", `rejected tar entry ${JSON.stringify(path)}: ${reason}`, { path });
}

/**
 * A tar name as a snapshot path: one leading `./` and a directory's trailing `/` are
 * tar conventions and dropped; anything else unclean is refused (the validator says
 * why). `""` is the root itself.
 */
function pathOf(raw: string | Uint8Array | undefined): string {
  let name = typeof raw === "string" ? raw : decodeName(raw ?? new Uint8Array(0));
  if (name.startsWith("./")) name = name.slice(2);
  if (name.endsWith("/")) name = name.slice(0, -1);
  if (name === ".") name = "";
  if (name.startsWith("/")) reject(name, "absolute path");
  const parts = name.split("/");
  if (parts.includes("..")) reject(name, "path contains ..");
  if (name !== "" && parts.some((p) => p === "" || p === ".")) reject(name, "path is not clean");
  return name;
}

/**
 * Imports the archive `input` into `target.dest`: afterwards the destination holds
 * exactly the archive's entries. Reports every entry to the updater with the checksum
 * `tarsum --entries` gives it.
 *
 * @example
 * ```ts
 * const result = await importTar(createReadStream("ctx.tar"), { dest, fs, updater });
 * result.bytesWritten; // 0 when the snapshot already held the same files
 * ```
 */
export async function importTar(
  input: TarInput,
  target: ReceiveTarget,
  limits: Partial<ReceiveLimits> = {},
): Promise<TarImportResult> {
  const { fs, dest, updater, previous } = target;
  const max = { ...DEFAULT_RECEIVE_LIMITS, ...limits };
  const snapshot = previous ? snapshotFromRecord(previous) : snapshotFromDisk(fs, dest);
  const compare = { compareOwner: previous !== undefined };
  const tree = new SafeTree(fs, dest);
  const spoolDir = joinPath(dest, `${TEMP_PREFIX}tar-${crypto.randomUUID()}`);
  fs.mkdirSync(spoolDir, { mode: 0o700 });
  const items = new Map<string, TarItem>();
  // Paths that have entries below them (directories, listed or implied).
  const parents = new Set<string>();
  let spools = 0;
  const result: TarImportResult = { entries: 0, added: 0, modified: 0, deleted: 0, unchanged: 0, bytesWritten: 0 };
  let bytes = 0;
  // Contents still being received. The reader may hand over an entry, or end one, after
  // the import has failed (a cut upload leaves a header buffered): once `finished`,
  // nothing is opened, and each is closed exactly once, here or by its entry's end.
  const open = new Set<ContentSink>();
  let finished = false;
  try {
    let inputBytes = 0;
    const counted = async function* () {
      for await (const chunk of input as AsyncIterable<Uint8Array>) {
        inputBytes += chunk.length;
        yield chunk;
      }
    };
    await readTarEntries(counted(), (header) => {
      if (finished) return { data() {}, end() {} };
      target.signal?.throwIfAborted();
      // A PAX global header is no entry: its name (`/tmp/GlobalHead.1`, `././@PaxHeader`) is no path.
      if (header.typeflag === "g") return { data() {}, end() {} };
      const path = pathOf(header.name);
      if (path === "") return { data() {}, end() {} };
      replaceEarlier(items, parents, path, header.typeflag === "5");
      if (items.size >= max.maxEntries) {
        throw new FSCacheError("ERR_LIMIT", `more than ${max.maxEntries} entries`, { path });
      }
      const item = itemOf(header, path, items);
      items.set(path, item);
      for (
        let i = path.lastIndexOf("/");
        i !== -1 && !parents.has(path.slice(0, i));
        i = path.lastIndexOf("/", i - 1)
      ) {
        parents.add(path.slice(0, i));
      }
      const hash = startEntryChecksum(updater.sha256, header);
      if (item.root !== undefined || item.stat.mode & 0x80000000 || item.stat.mode & 0x08000000) {
        item.checksum = hash.digest();
        return { data() {}, end() {} };
      }
      bytes += item.stat.size;
      if (bytes > max.maxBytes) {
        throw new FSCacheError("ERR_LIMIT", `tree exceeds the limit of ${max.maxBytes} bytes`, { path });
      }
      const probe: IncomingEntry = {
        id: 0,
        path,
        kind: "file",
        mode: 0o100000 | (header.mode & 0o7777),
        stat: item.stat,
      };
      const had = snapshot.get(path);
      const keep = had !== undefined && sameEntry(probe, had, compare);
      // A plain file of the same size already there is compared as the content streams and
      // rewritten only if some byte differs — also when its mode and mtime are the same:
      // archives made with a fixed mtime (SOURCE_DATE_EPOCH) change content alone, and the
      // checksum recorded is the archive's. One with other links is compared only when
      // nothing else about it changes: setting its mode in place would change them too.
      const there =
        had !== undefined && (had.mode & 0o170000) === 0o100000 && had.size === item.stat.size
          ? tree.lstat(path)
          : undefined;
      const comparable = there?.isFile() && (keep || there.nlink === 1) ? tree.full(path) : undefined;
      const content: ContentSink = fileContent(fs, comparable, joinPath(spoolDir, String(spools++)));
      open.add(content);
      return {
        data(chunk, hole) {
          hash.update(chunk);
          // Ended already when the import failed meanwhile.
          if (open.has(content)) content.data(chunk, hole);
        },
        end() {
          if (open.delete(content)) {
            const outcome = content.end();
            item.spool = outcome.spool;
            item.same = outcome.spool === undefined;
            item.differs = keep && outcome.spool !== undefined;
            // Rewritten in place counts now; a spool only if it is used (an unchanged
            // file re-linked by the archive is spooled, then dropped).
            if (outcome.spool === undefined) result.bytesWritten += outcome.written;
            else item.spoolBytes = outcome.written;
          }
          item.checksum = hash.digest();
        },
      };
    });
    target.signal?.throwIfAborted();
    // Not an empty archive (that has its end blocks): a producer that died before writing
    // anything, as in `make-context | fscache sync --tar -`, must not empty the snapshot.
    if (inputBytes === 0)
      throw new FSCacheError("ERR_INVALID_TAR", "the archive is empty (0 bytes): not a tar archive");
    apply(sortAndValidate(items, max), items, snapshot, compare, tree, target, result);
  } finally {
    finished = true;
    for (const content of open) {
      open.delete(content);
      content.abort();
    }
    tree.remove(spoolDir.slice(dest.length + 1));
  }
  return result;
}

/**
 * A path the archive names again: the later entry wins, as when `tar` or Docker extracts
 * an archive that `tar --append` grew. A directory named again as a directory keeps what
 * is below it; anything else replaces the earlier entry and everything below that path
 * (Docker removes it all). A hard link to a replaced entry would keep the old content on
 * extraction, which a snapshot built after reading the archive cannot give it: refused.
 */
function replaceEarlier(items: Map<string, TarItem>, parents: Set<string>, path: string, isDir: boolean): void {
  const earlier = items.get(path);
  if (isDir && (earlier === undefined || earlier.stat.mode & 0x80000000)) return;
  const gone = new Set<string>();
  if (earlier !== undefined) gone.add(path);
  if (parents.has(path)) {
    const below = `${path}/`;
    for (const key of items.keys()) if (key.startsWith(below)) gone.add(key);
    for (const dir of parents) if (dir === path || dir.startsWith(below)) parents.delete(dir);
  }
  if (gone.size === 0) return;
  for (const [key, item] of items) {
    if (item.root !== undefined && gone.has(item.root) && !gone.has(key)) {
      throw new FSCacheError(
        "ERR_UNSUPPORTED",
        `tar entry ${JSON.stringify(path)} replaces ${JSON.stringify(item.root)}, which ${JSON.stringify(key)} is a hard link to`,
        { path },
      );
    }
  }
  for (const key of gone) items.delete(key);
}

function itemOf(header: TarHeader, path: string, items: Map<string, TarItem>): TarItem {
  const linkname =
    typeof header.linkname === "string" ? header.linkname : decodeName(header.linkname ?? new Uint8Array(0));
  const base = {
    path,
    uid: header.uid,
    gid: header.gid,
    modTime: header.mtimeNs,
  };
  if (header.typeflag === "1") {
    const to = pathOf(linkname);
    const target = items.get(to);
    if (!target || (target.stat.mode & 0x88000000) !== 0)
      reject(path, `hard link to unknown or later path ${JSON.stringify(linkname)}`);
    const root = target.root ?? to;
    const rootStat = (items.get(root) as TarItem).stat;
    return { stat: makeStat({ ...base, mode: rootStat.mode, size: rootStat.size, linkname: root }), root };
  }
  const type = TYPE_BITS[header.typeflag];
  if (type === undefined) {
    throw new FSCacheError("ERR_UNSUPPORTED", `cannot import tar entries of type ${JSON.stringify(header.typeflag)}`, {
      path,
    });
  }
  const mode = goModeFromPosix(type | (header.mode & 0o7777));
  if (type === 0o120000) return { stat: makeStat({ ...base, mode, size: linkname.length, linkname }) };
  return { stat: makeStat({ ...base, mode, size: type === 0o100000 ? header.size : 0 }) };
}

/**
 * The entries in walk order through the validator. A hard link may sort before the
 * file it links to; then the first path in walk order becomes the file and the others
 * link to it (what a walk of the extracted tree would send). Directories the archive
 * implies but does not list are added (0755, owner 0, mtime 0).
 */
function sortAndValidate(items: Map<string, TarItem>, limits: ReceiveLimits): IncomingEntry[] {
  for (const path of [...items.keys()]) {
    for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
      const dir = path.slice(0, i);
      if (!items.has(dir)) items.set(dir, { stat: makeStat({ path: dir, mode: (0x80000000 | 0o755) >>> 0 }) });
    }
  }
  const groups = new Map<string, string[]>();
  for (const [path, item] of items) {
    if (item.root !== undefined) groups.set(item.root, [...(groups.get(item.root) ?? [item.root]), path]);
  }
  for (const [root, members] of groups) {
    const first = members.sort(compareWalkOrder)[0] as string;
    if (first === root) continue;
    const rootItem = items.get(root) as TarItem;
    const firstItem = items.get(first) as TarItem;
    // The file's own header gives the inode its mode, owner and mtime (as `tar -x` does),
    // not the header of the link that happens to sort first.
    firstItem.stat = makeStat({ ...rootItem.stat, path: first, linkname: "" });
    firstItem.root = undefined;
    firstItem.spool = rootItem.spool;
    firstItem.spoolBytes = rootItem.spoolBytes;
    rootItem.spool = undefined;
    // the root's content was not spooled (unchanged on disk): `first` becomes a link to it there
    if (firstItem.spool === undefined) firstItem.root = `disk:${root}`;
    for (const member of members) {
      if (member === first) continue;
      const m = items.get(member) as TarItem;
      m.stat = makeStat({ ...m.stat, linkname: first });
      m.root = first;
    }
  }
  const validator = new StatValidator(limits);
  return [...items.keys()].sort(compareWalkOrder).map((path) => validator.check((items.get(path) as TarItem).stat));
}

function apply(
  incoming: IncomingEntry[],
  items: Map<string, TarItem>,
  snapshot: Snapshot,
  compare: { compareOwner: boolean },
  tree: SafeTree,
  target: ReceiveTarget,
  result: TarImportResult,
): void {
  const { fs, updater } = target;
  const plan = planChanges(incoming, snapshot, {
    ...compare,
    linkTimes: tree.linkTimes,
    differs: (path) => items.get(path)?.differs === true,
  });
  for (const path of plan.deletes) {
    tree.remove(path);
    updater.handleChange("delete", path);
    result.deleted++;
  }
  // hard links are always planned; they count as changed only when actually relinked
  const changed = new Set(plan.changes.filter((c) => c.entry.kind !== "hardlink").map((c) => c.entry.path));
  const links: IncomingEntry[] = [];
  for (const { entry } of plan.changes) {
    const item = items.get(entry.path) as TarItem;
    if (entry.kind === "dir") tree.mkdir(entry.path, entry.mode);
    else if (entry.kind === "symlink") tree.symlink(entry.path, entry.stat.linkname, fileTime(entry.stat.modTime));
    else if (entry.kind === "hardlink") links.push(entry);
    else if (item.root?.startsWith("disk:")) {
      tree.link(entry.path, item.root.slice(5));
      setModeAndTime(fs, tree.full(entry.path), entry);
    } else if (item.spool !== undefined) {
      setModeAndTime(fs, item.spool, entry);
      tree.commitTemp(item.spool, entry.path);
      result.bytesWritten += item.spoolBytes ?? 0;
    } else if (item.same) setModeAndTime(fs, tree.full(entry.path), entry);
    else throw new FSCacheError("ERR_PROTOCOL", "file content missing from the archive", { path: entry.path });
  }
  for (const entry of links) {
    const have = tree.lstat(entry.path);
    const to = tree.lstat(entry.stat.linkname);
    if (have && to && have.ino === to.ino && have.dev === to.dev) continue;
    tree.link(entry.path, entry.stat.linkname);
    changed.add(entry.path);
  }
  tree.finishModes();
  restoreDirTimes(tree, incoming, touchedDirs(plan));
  updater.markSupported(true);
  for (const entry of incoming) {
    const item = items.get(entry.path) as TarItem;
    const checksum = item.checksum ?? startEntryChecksum(updater.sha256, headerOf(entry) as EntryHeader).digest();
    const isNew = !snapshot.has(entry.path);
    if (isNew) result.added++;
    else if (changed.has(entry.path)) result.modified++;
    else result.unchanged++;
    // unchanged entries too: their tar header (name spelling, say) may hash differently now
    updater.handleChange(isNew ? "add" : "modify", entry.path, checksum, entryStatOf(entry));
  }
  result.entries = incoming.length;
}

/** A written (or kept) file's permission bits and mtime, as its entry has them. */
function setModeAndTime(fs: ReceiveTarget["fs"], full: string, entry: IncomingEntry): void {
  fs.chmodSync(full, entry.mode & 0o7777);
  const time = fileTime(entry.stat.modTime);
  fs.utimesSync(full, time, time);
}
