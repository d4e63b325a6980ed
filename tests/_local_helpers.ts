/**
 * Helpers for the local transport tests: a recorded tree fed by reported changes (the
 * cache's future hash tree, in miniature), a seeded tree generator, and comparisons
 * of two directories and of reported checksums with a fresh scan.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type CacheUpdater,
  type ChangeKind,
  type EntryStat,
  entryChecksum,
  type FileSystem,
  fileSystemFrom,
  headerFromStats,
  type LocalTransport,
  type NodeStyleFs,
  nodeSha256,
  type RecordedEntry,
  type RecordedTree,
} from "../mod.ts";
import { STAT_FIELDS, type WalkResult } from "../transports/local/walk.ts";
import { seededRandom } from "./_helpers.ts";

/** A walk's entries as a record holds them (checksums left out), listing keys and all. */
export function recordEntries(walk: WalkResult): [string, RecordedEntry][] {
  return walk.paths.map((path, i) => {
    const o = i * STAT_FIELDS;
    const key = walk.stats[o + 5] as number;
    const stat: EntryStat = {
      mode: walk.stats[o] as number,
      uid: walk.stats[o + 1] as number,
      gid: walk.stats[o + 2] as number,
      size: walk.stats[o + 3] as number,
      mtimeMs: walk.stats[o + 4] as number,
      ...(Number.isNaN(key) ? {} : { listingKey: key }),
    };
    return [path, { checksum: "0".repeat(64), stat }];
  });
}

/** One reported change. */
export interface Change {
  kind: ChangeKind;
  path: string;
  checksum?: string;
  stat?: EntryStat;
}

/** Walk order of SPEC §5.2: byte order with `/` before everything else. */
function walkOrder(a: string, b: string): number {
  const x = a.replaceAll("/", "\0");
  const y = b.replaceAll("/", "\0");
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A CacheUpdater that keeps path → {checksum, stat} and can be passed back as `previous`. */
export class RecordingTree implements CacheUpdater, RecordedTree {
  readonly sha256 = nodeSha256;
  supported = false;
  /** Changes of the current sync (cleared by {@linkcode RecordingTree.begin}). */
  changes: Change[] = [];
  /**
   * Directories of the current sync recorded again only for a new listing key (same
   * checksum and stat otherwise): kept out of `changes`, which list what changed.
   */
  rekeyed: string[] = [];
  readonly #entries = new Map<string, RecordedEntry>();
  /** Called on every change, e.g. to abort a sync half-way. */
  onChange: ((change: Change) => void) | undefined;

  begin(): this {
    this.changes = [];
    this.rekeyed = [];
    this.supported = false;
    return this;
  }
  markSupported(supported: boolean): void {
    this.supported = supported;
  }
  handleChange(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void {
    const change: Change = { kind, path, checksum, stat };
    const had = this.#entries.get(path);
    if (
      kind === "modify" &&
      had !== undefined &&
      had.checksum === checksum &&
      stat &&
      had.stat &&
      sameButKey(had.stat, stat)
    ) {
      this.rekeyed.push(path);
    } else this.changes.push(change);
    if (kind === "delete") {
      for (const key of [...this.#entries.keys()]) {
        if (key === path || key.startsWith(`${path}/`)) this.#entries.delete(key);
      }
    } else this.#entries.set(path, { checksum: checksum as string, stat });
    this.onChange?.(change);
  }
  get size(): number {
    return this.#entries.size;
  }
  get(path: string): RecordedEntry | undefined {
    return this.#entries.get(path);
  }
  entries(): Iterable<[string, RecordedEntry]> {
    return [...this.#entries].sort(([a], [b]) => walkOrder(a, b));
  }
  checksums(): Map<string, string> {
    return new Map([...this.#entries].map(([p, e]) => [p, e.checksum]));
  }
  /** `kind path` of this sync's changes, sorted, without directories' mtime-only updates. */
  summary(options: { dirs?: boolean } = {}): string[] {
    return this.changes
      .filter((c) => options.dirs || c.kind === "delete" || ((c.stat?.mode ?? 0) & 0o170000) !== 0o040000)
      .map((c) => `${c.kind} ${c.path}`)
      .sort();
  }
  bytesCopied(): number {
    return this.changes
      .filter((c) => c.kind !== "delete" && ((c.stat?.mode ?? 0) & 0o170000) === 0o100000)
      .reduce((n, c) => n + (c.stat?.size ?? 0), 0);
  }
}

/** Two stats equal in all but their listing keys, which differ. */
function sameButKey(a: EntryStat, b: EntryStat): boolean {
  const { listingKey: x, ...restA } = a;
  const { listingKey: y, ...restB } = b;
  return x !== y && JSON.stringify(restA) === JSON.stringify(restB);
}

/** Runs one sync of `source` into `dest`, passing `tree` as `previous` when asked. */
export async function syncOnce(
  transport: LocalTransport,
  source: string,
  dest: string,
  fs: FileSystem,
  tree: RecordingTree,
  options: { previous?: boolean; signal?: AbortSignal } = {},
): Promise<RecordingTree> {
  tree.begin();
  await transport.copy({
    id: { key: "k", transport: "local", path: source },
    dest,
    fs,
    updater: tree,
    signal: options.signal ?? new AbortController().signal,
    previous: options.previous ? tree : undefined,
  });
  return tree;
}

/** Entry checksums of every entry below `root`, computed afresh (SPEC §4.1). */
export function freshChecksums(fs: FileSystem, root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel === "" ? root : `${root}/${rel}`)) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = `${root}/${path}`;
      const stats = fs.lstatSync(full);
      const link = stats.isSymbolicLink() ? fs.readlinkSync(full) : undefined;
      const header = headerFromStats(path, stats, link);
      if (!header) continue;
      out.set(path, entryChecksum(nodeSha256, header, stats.isFile() ? fs.readFileSync(full) : undefined));
      if (stats.isDirectory()) walk(path);
    }
  };
  walk("");
  return out;
}

/** Asserts two trees equal: kinds, modes, contents, link targets, mtimes (files, dirs, links). */
export function assertSameTree(srcFs: FileSystem, src: string, dstFs: FileSystem, dst: string, linkTimes = true): void {
  const describe = (fs: FileSystem, root: string) => {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const name of fs.readdirSync(rel === "" ? root : `${root}/${rel}`).sort()) {
        const path = rel === "" ? name : `${rel}/${name}`;
        const full = `${root}/${path}`;
        const s = fs.lstatSync(full);
        // The same millisecond: a copy gets the source's nearest microsecond, kept within
        // its millisecond (libuv sets no finer), so rounding could split the two at a half.
        const mtime = Math.floor(s.mtimeMs);
        if (s.isSymbolicLink()) out.set(path, `link ${fs.readlinkSync(full)} ${linkTimes ? mtime : ""}`);
        else if (s.isDirectory()) {
          out.set(path, `dir ${(s.mode & 0o7777).toString(8)} ${mtime}`);
          walk(path);
        } else {
          const content = Buffer.from(fs.readFileSync(full)).toString("base64");
          out.set(path, `file ${(s.mode & 0o7777).toString(8)} ${mtime} ${content}`);
        }
      }
    };
    walk("");
    return out;
  };
  assert.deepEqual(describe(dstFs, dst), describe(srcFs, src));
}

/** A seeded tree spec: files of varied sizes and modes, nested and empty dirs, symlinks. */
export function generateTree(fs: FileSystem, root: string, seed: number, files = 60, maxSize = 300_000): void {
  const random = seededRandom(seed);
  const dirs = ["", "a", "a/b", "a/b/c", "d", "d/e", "empty", "a/empty2"];
  for (const dir of dirs) if (dir) fs.mkdirSync(`${root}/${dir}`, { recursive: true });
  const modes = [0o644, 0o755, 0o600, 0o640];
  const base = 1_600_000_000; // seconds; distinct past mtimes make mtime checks meaningful
  for (let i = 0; i < files; i++) {
    const dir = dirs[i % 6] as string; // f0 in the root, f1 in a, f2 in a/b, f3 in a/b/c, f4 in d, f5 in d/e…
    const path = `${root}/${dir ? `${dir}/` : ""}f${i}.txt`;
    const size = Math.floor(random() * random() * maxSize);
    const bytes = new Uint8Array(size);
    for (let j = 0; j < size; j += 97) bytes[j] = Math.floor(random() * 256);
    fs.writeFileSync(path, bytes);
    fs.chmodSync(path, modes[i % modes.length] as number);
    fs.utimesSync(path, base + i, base + i + 0.123);
  }
  fs.symlinkSync("f1.txt", `${root}/rel-link`);
  fs.symlinkSync("/etc/passwd", `${root}/a/outside`);
  fs.symlinkSync("../../nowhere", `${root}/a/b/dangling`);
  fs.chmodSync(`${root}/d/e`, 0o750);
  for (const dir of [...dirs].reverse()) if (dir) fs.utimesSync(`${root}/${dir}`, base, base + 7);
}

/**
 * A file system over `module` (`node:fs`, a memfs volume) with its `writeSync` calls
 * counted: `written` maps each path opened below `under` to the bytes written through
 * its descriptors. Not the disk itself to the local transport, so it copies inline.
 */
export function recordingWrites(module: NodeStyleFs, under: string): { fs: FileSystem; written: Map<string, number> } {
  const written = new Map<string, number>();
  const pathOf = new Map<number, string>();
  const raw = module as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrapped = {
    ...module,
    openSync(path: string, ...rest: unknown[]): number {
      const fd = raw.openSync?.(path, ...rest) as number;
      pathOf.delete(fd);
      if (path.startsWith(`${under}/`)) {
        const rel = path.slice(under.length + 1);
        pathOf.set(fd, rel);
        written.set(rel, written.get(rel) ?? 0);
      }
      return fd;
    },
    writeSync(fd: number, ...rest: unknown[]): number {
      const n = raw.writeSync?.(fd, ...rest) as number;
      const path = pathOf.get(fd);
      if (path !== undefined) written.set(path, (written.get(path) ?? 0) + n);
      return n;
    },
  };
  return { fs: fileSystemFrom(wrapped as unknown as NodeStyleFs), written };
}

/**
 * Old and new content of files rewritten in place: shorter, longer, equal, emptied, and
 * around 4096-byte blocks (new content ending inside a block that held old data, on a
 * block boundary, and past the old end).
 */
export const REWRITES: Record<string, [before: string, after: string]> = {
  shrinks: ["0123456789abcdef", "xyz"],
  grows: ["ab", "0123456789abcdef"],
  same: ["abcdef", "ABCDEF"],
  empty: ["gone soon", ""],
  "tail-block": ["a".repeat(5000), "b".repeat(4500)],
  "to-boundary": ["c".repeat(100), "d".repeat(4096)],
  "cut-back": ["e".repeat(10_000), "f".repeat(6000)],
  "past-old-end": ["g".repeat(3000), "h".repeat(9000)],
  big: ["i".repeat(300_000), "j".repeat(200_001)],
};

/**
 * Bytes written to rewrite each of {@linkcode REWRITES} in place: a last block that
 * held old data is written whole (zeros after the content, then cut off), so the kernel
 * never reads it back; a last block past the old end is not.
 */
export const REWRITE_BYTES: Record<string, number> = {
  shrinks: 4096,
  grows: 4096,
  same: 4096,
  empty: 0,
  "tail-block": 8192,
  "to-boundary": 4096,
  "cut-back": 8192,
  "past-old-end": 9000,
  big: 200_704,
};
