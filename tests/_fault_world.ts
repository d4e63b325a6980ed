/**
 * The world a fault campaign runs in: a cache whose snapshot file system and record
 * store fail on an injector's say-so, every transport registered over it, and source
 * trees that change between syncs (each version has its own key, so what a key must
 * hold is always known).
 */
import * as nodeFs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Volume } from "memfs";
import { type FileSystem, fileSystemFrom } from "../core/file_system.ts";
import { inlineScanner } from "../core/tree_scan.ts";
import type { MetaStore, TreeSpec } from "../mod.ts";
import {
  DiffCopyTransport,
  FileMetaStore,
  FSCache,
  FsBackend,
  LocalTransport,
  MemoryMetaStore,
  MemoryTransport,
  memoryPipe,
  nodeSha256,
  sendDiffCopy,
} from "../mod.ts";
import { SessionServer } from "../transports/session/server.ts";
import { TarTransport } from "../transports/tar/tar_transport.ts";
import { cutConnection, cutStream, FaultInjector, faultyFileSystem, faultyMetaStore } from "./_faults.ts";
import { manualClock, recordingLogger } from "./_helpers.ts";
import { type RawTarEntry, tarArchive } from "./_tar_writer.ts";

/** One entry of a source tree. */
export type Entry =
  | { type: "dir" }
  | { type: "file"; content: Uint8Array; mode: number }
  | { type: "symlink"; target: string };

/** A source tree: relative path → entry, parents before children. */
export type Tree = Map<string, Entry>;

/** Where a world keeps its files. */
export type Medium = "memory" | "disk";

const NAMES = ["a", "b", "c", "d", "e", "f", "g", "x.txt", "y.bin", "z z"];

/** Applies one random edit to `tree` and to its copy on `fs` at `root`. */
export function editTree(tree: Tree, fs: FileSystem, root: string, random: () => number): void {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const dirs = ["", ...[...tree].filter(([, e]) => e.type === "dir").map(([p]) => p)];
  const files = [...tree].filter(([, e]) => e.type === "file").map(([p]) => p);
  const roll = random();
  if (roll < 0.2 && tree.size > 0) {
    const victim = pick([...tree.keys()]);
    // memfs's rmSync follows a symlink (it would delete the target): links are unlinked.
    if (tree.get(victim)?.type === "symlink") fs.unlinkSync(`${root}/${victim}`);
    else fs.rmSync(`${root}/${victim}`, { recursive: true, force: true });
    for (const path of [...tree.keys()]) if (path === victim || path.startsWith(`${victim}/`)) tree.delete(path);
    return;
  }
  if (roll < 0.45 && files.length > 0) {
    const path = pick(files);
    const entry = tree.get(path) as Extract<Entry, { type: "file" }>;
    if (random() < 0.3) {
      entry.mode = entry.mode === 0o644 ? 0o755 : 0o644;
      fs.chmodSync(`${root}/${path}`, entry.mode);
    } else {
      entry.content = content(random);
      fs.writeFileSync(`${root}/${path}`, entry.content);
    }
    return;
  }
  const parent = pick(dirs);
  const path = parent === "" ? pick(NAMES) : `${parent}/${pick(NAMES)}`;
  if (tree.has(path)) return;
  const full = `${root}/${path}`;
  const kind = random();
  if (kind < 0.2) {
    tree.set(path, { type: "dir" });
    fs.mkdirSync(full);
  } else if (kind < 0.3) {
    const target = pick(["a", "../b", "x.txt", "missing", "d/e"]);
    tree.set(path, { type: "symlink", target });
    fs.symlinkSync(target, full);
  } else {
    const entry = { type: "file" as const, content: content(random), mode: random() < 0.2 ? 0o755 : 0o644 };
    tree.set(path, entry);
    fs.writeFileSync(full, entry.content);
    fs.chmodSync(full, entry.mode);
  }
}

function content(random: () => number): Uint8Array {
  const size = random() < 0.05 ? 70_000 + Math.floor(random() * 70_000) : Math.floor(random() * 3000);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (random() * 256) | 0;
  return out;
}

/** A tree as `MemoryTransport` takes it. */
export function specOf(tree: Tree): TreeSpec {
  const spec: TreeSpec = {};
  for (const [path, e] of tree) {
    if (e.type === "dir") spec[`${path}/`] = {};
    else if (e.type === "symlink") spec[path] = { symlink: e.target };
    else spec[path] = { content: e.content, mode: e.mode };
  }
  return spec;
}

/**
 * A tree as a tar archive, entries in the order given, with headers as Docker writes
 * them (type bits in `mode`, symlinks 0777, the owner of the files it would extract
 * to), so the import's checksums, taken from the headers, equal a scan of the result.
 */
export function tarOf(tree: Tree): Uint8Array {
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  return tarArchive(
    [...tree].map(([path, e]): RawTarEntry => {
      if (e.type === "dir") return { ...owner, name: `${path}/`, typeflag: "5", mode: 0o40755 };
      if (e.type === "symlink") return { ...owner, name: path, typeflag: "2", linkname: e.target, mode: 0o120777 };
      return { ...owner, name: path, typeflag: "0", mode: 0o100000 | e.mode, content: e.content };
    }),
  );
}

/** Bytes as a stream of chunks of at most `size`. */
export function chunked(bytes: Uint8Array, size = 4096): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(controller) {
      if (o >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(o, o + size));
      o += size;
    },
  });
}

/** What a snapshot directory holds, comparable with {@linkcode describeTree}. */
export function describeDir(fs: FileSystem, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel === "" ? dir : `${dir}/${rel}`)) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const st = fs.lstatSync(`${dir}/${path}`);
      if (st.isDirectory()) {
        out.push(`${path}/`);
        walk(path);
      } else if (st.isSymbolicLink()) out.push(`${path} -> ${fs.readlinkSync(`${dir}/${path}`)}`);
      else out.push(`${path} ${(st.mode & 0o777).toString(8)} ${digest(fs.readFileSync(`${dir}/${path}`))}`);
    }
  };
  walk("");
  return out.sort();
}

/** What a tree holds, as {@linkcode describeDir} lists a directory. */
export function describeTree(tree: Tree): string[] {
  return [...tree]
    .map(([path, e]) =>
      e.type === "dir"
        ? `${path}/`
        : e.type === "symlink"
          ? `${path} -> ${e.target}`
          : `${path} ${e.mode.toString(8)} ${digest(e.content)}`,
    )
    .sort();
}

function digest(bytes: Uint8Array): string {
  const h = nodeSha256();
  h.update(bytes);
  return h.digest().slice(0, 16);
}

/** Sources, cache and transports of one campaign run. */
export class FaultWorld {
  readonly medium: Medium;
  readonly injector: FaultInjector;
  /** The file system without faults, for setup and verification. */
  readonly base: FileSystem;
  /** The same file system, failing on the injector's say-so. */
  readonly faulty: FileSystem;
  readonly root: string;
  readonly clock = manualClock();
  readonly logger = recordingLogger();
  /** Every key synced so far → what it must hold. */
  readonly expected = new Map<string, string[]>();
  /** Per key, a tree it was synced from (to repair a stale snapshot with). */
  readonly trees = new Map<string, Tree>();
  readonly #store: MetaStore;
  readonly #cleanup: () => void;
  cache!: FSCache;
  server!: SessionServer;
  /** The memfs volume of a memory world, to count its open descriptors. */
  readonly volume: InstanceType<typeof Volume> | undefined;
  /** Senders started by the diff-copy transport, awaited before the world is checked. */
  readonly senders: Promise<unknown>[] = [];

  constructor(medium: Medium, seed: number, rate: number) {
    this.medium = medium;
    this.injector = new FaultInjector({ seed, rate, shortIo: 0.05 });
    this.injector.armed = false;
    if (medium === "memory") {
      this.root = "/w";
      this.volume = new Volume();
      this.base = fileSystemFrom(this.volume);
      this.#store = new MemoryMetaStore();
      this.#cleanup = () => undefined;
    } else {
      this.root = mkdtempSync(join(tmpdir(), "fscache-"));
      this.volume = undefined;
      this.base = fileSystemFrom(nodeFs);
      this.#store = undefined as unknown as MetaStore;
      const root = this.root;
      this.#cleanup = () => rmSync(root, { recursive: true, force: true });
    }
    this.base.mkdirSync(`${this.root}/src`, { recursive: true });
    this.faulty = faultyFileSystem(this.base, this.injector);
  }

  /** Opens (or reopens) the cache and its session server; faults apply if armed. */
  async open(): Promise<void> {
    const store = this.#store ?? new FileMetaStore(`${this.root}/cache`, { logger: this.logger });
    let cache: FSCache;
    try {
      cache = await FSCache.open({
        backend: new FsBackend(this.faulty, `${this.root}/cache/snapshots`),
        metaStore: faultyMetaStore(store, this.injector),
        gcInterval: 0,
        gcPolicy: { maxSize: 60_000, maxKeepDuration: 50_000 },
        clock: this.clock.now,
        logger: this.logger,
        scanner: inlineScanner,
      });
    } catch (err) {
      if (!this.#store) await store.close();
      throw err;
    }
    this.cache = cache;
    cache.registerTransport("mem", new MemoryTransport());
    cache.registerTransport("local", new LocalTransport({ sourceFs: this.faulty, logger: this.logger }));
    cache.registerTransport("tar", new TarTransport((request) => request.id.tar as ReadableStream<Uint8Array>));
    cache.registerTransport(
      "dc",
      new DiffCopyTransport((request) => {
        const [send, receive] = memoryPipe();
        const cut = request.id.cut as number | undefined;
        const sending = sendDiffCopy(send, { fs: this.faulty, root: request.id.path as string });
        this.senders.push(sending.catch(() => undefined));
        return cut === undefined ? receive : cutConnection(receive, { after: cut });
      }),
    );
    this.server = new SessionServer(cache, {});
  }

  /** Directory of project `p`'s source. */
  sourceDir(p: number): string {
    return `${this.root}/src/p${p}`;
  }

  async close(): Promise<void> {
    await this.server.close({ abort: true });
    await this.cache.close();
  }

  async dispose(): Promise<void> {
    this.injector.armed = false;
    await this.close().catch(() => undefined);
    this.#cleanup();
  }
}

/** A connection pair whose client end is cut after `cut` bytes (none when undefined). */
export function pipe(cut: number | undefined) {
  const [client, server] = memoryPipe();
  return { client: cut === undefined ? client : cutConnection(client, { after: cut }), server };
}

/** A tar body, truncated after `cut` bytes when given. */
export function tarBody(
  bytes: Uint8Array,
  cut: number | undefined,
  how: "reset" | "close",
): ReadableStream<Uint8Array> {
  const stream = chunked(bytes, 1000);
  return cut === undefined ? stream : cutStream(stream, { after: cut, how });
}
