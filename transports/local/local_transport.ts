/**
 * {@linkcode LocalTransport}: makes a snapshot equal to a local directory (SPEC §5.1),
 * moving only what changed. Hot loops run synchronously in worker threads when both
 * sides are on the disk, inline over in-memory file systems.
 * @module
 */
import { availableParallelism } from "node:os";
import { cwd, geteuid } from "node:process";
import { setImmediate } from "node:timers";
import { diskFs, isDiskFs, keepingByteNames } from "../../backends/disk_fs.ts";
import { siblingModule, WorkerPool } from "../../backends/worker_pool.ts";
import { FSCacheError } from "../../core/errors.ts";
import { type FileSystem, nodeStyleModuleOf } from "../../core/file_system.ts";
import { RecordedTable } from "../../core/recorded_table.ts";
import type {
  CacheUpdater,
  CopyRequest,
  Logger,
  PrepareRequest,
  RemoteIdentifier,
  Transport,
} from "../../core/types.ts";
import { applyPlan } from "./apply_plan.ts";
import { PARALLEL_WALK_ENTRIES, type WalkRunner, walkLargeSource, walkSource } from "./parallel_walk.ts";
import { planAgainstRecord, planAgainstWalk } from "./plan.ts";
import { diskPrefetcher } from "./prefetch.ts";
import { RecordedListings } from "./recorded_listings.ts";
import type { SyncFs } from "./sync_fs.ts";
import { runTask, type Task, type TaskContext } from "./tasks.ts";
import { STAT_FIELDS, TreeWalker, type WalkOptions, type WalkResult } from "./walk.ts";

/** Options of {@linkcode LocalTransport}. */
export interface LocalTransportOptions {
  /** Fixed source directory. Without it each request names its own in `id.path` (absolute). */
  root?: string;
  /** `.dockerignore` patterns left out of every sync; a request may add more in `id.excludes`. */
  excludes?: readonly string[];
  /** Sync the target when the source directory itself is a symlink. Default `true`. */
  followRootSymlink?: boolean;
  /**
   * Threads that walk and copy a large sync, the calling thread included (it walks and
   * copies too, so this starts one worker fewer). Default: the number of CPUs.
   */
  concurrency?: number;
  /** Where the source lives. Default: the disk (`node:fs`). */
  sourceFs?: FileSystem;
  /** Use worker threads when both sides are on the disk. Default `true`. */
  threads?: boolean;
  /**
   * Change sets up to this many files and bytes are copied on the calling thread, since
   * starting workers costs tens of milliseconds. Default `{ files: 512, bytes: 16 MiB }`.
   */
  smallSync?: { files?: number; bytes?: number };
  /**
   * A source whose last sync recorded at least this many entries is walked by several
   * threads at once. Default 20,000.
   */
  parallelWalk?: number;
  /**
   * Take the entries of a source directory whose inode and status-change time are those
   * the last sync recorded from that record, instead of reading the directory (see
   * docs/LOCAL-TRANSPORT.md). Turn off for a source on a file system whose `ctime` does
   * not move with every change of a directory's entries, or whose clock runs more than
   * 3 s behind this machine's. Default `true`.
   */
  reuseListings?: boolean;
  /** Receives a warning for each device, fifo or socket left out. Default: `console.warn`. */
  logger?: Logger;
  /** Called after each successful sync with what it did. */
  onSummary?: (summary: SyncSummary) => void;
}

/** What one sync did. */
export interface SyncSummary {
  added: number;
  modified: number;
  deleted: number;
  unchanged: number;
  /** Content bytes copied. */
  bytesCopied: number;
  /** Devices, fifos and sockets left out. */
  skipped: string[];
}

/** Where tasks run: here, or in worker threads. */
export interface Runner {
  run(task: Task): Promise<unknown>;
  /**
   * Runs a task in a worker thread even where `run` would run it here (walks); with
   * `worker`, in that worker (numbered from 0).
   */
  offload?(task: Task, worker?: number): Promise<unknown>;
  /** The source's file system, as seen from this thread. */
  src: SyncFs;
  /** Threads that may walk and copy at once, the calling thread included. */
  parallel: number;
  /** The same work on the calling thread, for syncs too small to be worth starting workers. */
  inline?: Runner;
}

/**
 * Entries the calling thread walks between event-loop turns: few, so that a worker's
 * answer (and its request for the next run) waits at most a few milliseconds.
 */
const WALK_SLICE = 1000;
/** Change sets up to this size are copied on the calling thread (in batches between turns). */
const SMALL_SYNC_FILES = 512;
const SMALL_SYNC_BYTES = 16 << 20;
/** How far apart two mtimes may be and still count as equal when read back from the snapshot. */
const SNAPSHOT_MTIME_SLACK_MS = 1;

const consoleLogger: Logger = { warn: (message) => console.warn(`[fscache] ${message}`) };

/**
 * Syncs a local directory into a snapshot. Register it and pass the directory as
 * `path` of the request.
 *
 * @example
 * ```ts
 * cache.registerTransport("local", new LocalTransport({ excludes: ["node_modules", "*.log"] }));
 * await using src = await cache.syncFrom({ key: "k1", sharedKey: "/home/me/app", transport: "local", path: "/home/me/app" });
 * ```
 */
export class LocalTransport implements Transport {
  readonly #options: LocalTransportOptions;
  #pool: WorkerPool | undefined;
  /** Walks `prepare` started, for the `copy` of the same request. */
  readonly #earlyWalks = new WeakMap<RemoteIdentifier, Promise<WalkResult>>();

  constructor(options: LocalTransportOptions = {}) {
    if (options.concurrency !== undefined && !(options.concurrency >= 1)) {
      throw new FSCacheError("ERR_INVALID_OPTION", `concurrency must be at least 1, got ${options.concurrency}`);
    }
    this.#options = options;
  }

  async copy(request: CopyRequest): Promise<void> {
    const { id, dest, updater, signal } = request;
    // In columns, once: the plan reads it so, and so do the listings the walk may reuse.
    const previous = request.previous && RecordedTable.from(request.previous);
    const source = this.#sourceOf(id);
    const walkOptions = this.#walkOptions(id);
    const early = this.#earlyWalks.get(id);
    this.#earlyWalks.delete(id);
    updater.markSupported(true);
    signal.throwIfAborted();
    const runner = this.#runner(request.fs, updater);
    const [src, dst] = (await Promise.all([
      early ??
        walkSource(
          runner,
          source,
          walkOptions,
          previous,
          this.#parallelWalkEntries(),
          this.#recorded(previous, dest, request.fs),
        ),
      previous ? undefined : runner.run({ op: "walk", side: "dst", root: dest, options: {} }),
    ])) as [WalkResult, WalkResult | undefined];
    for (const path of src.skipped) {
      (this.#options.logger ?? consoleLogger).warn(`skipped ${path}: devices, fifos and sockets are not synced`);
    }
    signal.throwIfAborted();
    const owners = geteuid?.() === 0;
    const plan = dst
      ? planAgainstWalk(src, dst, {
          owners,
          mtimeSlack: SNAPSHOT_MTIME_SLACK_MS,
          linkTimes: typeof this.#syncFs(request.fs).lutimesSync === "function",
        })
      : planAgainstRecord(src, previous as RecordedTable, { owners, mtimeSlack: 0, linkTimes: true });
    // Starting workers costs tens of milliseconds: a small change set is copied right here.
    let bytes = 0;
    for (const { index } of plan.files) bytes += src.stats[index * STAT_FIELDS + 3] as number;
    const limit = this.#options.smallSync;
    const small =
      plan.files.length <= (limit?.files ?? SMALL_SYNC_FILES) && bytes <= (limit?.bytes ?? SMALL_SYNC_BYTES);
    const applier = small && runner.inline ? runner.inline : runner;
    const summary = await applyPlan(applier, plan, src, source, dest, updater, signal, owners);
    this.#options.onSummary?.(summary);
  }

  /**
   * Starts the worker threads a large sync walks with (see `Transport.prepare`): started
   * when the walk begins, they joined it 100–200 ms late. The calling thread walks too,
   * so one fewer. Not for a snapshot recorded too small to be walked by several threads:
   * a worker nobody uses cost a 10k-entry no-op sync ~50 ms here (its start competes
   * with the walk). When the record is large, the walk itself starts now, so that the
   * workers walk while this thread decodes the record (~0.1 s for 100k entries) instead
   * of waiting for it; `copy` takes the walk over.
   */
  prepare(request: PrepareRequest): void {
    const size = this.#threads(request.fs);
    const small = request.entries !== undefined && request.entries < this.#parallelWalkEntries();
    if (size < 2 || small) return;
    this.#workers(size).start();
    if (request.entries === undefined) return;
    const { id } = request;
    // A bad request is left for `copy` to report, with its key.
    let source: string;
    let options: WalkOptions;
    try {
      source = this.#sourceOf(id);
      options = this.#walkOptions(id);
    } catch {
      return;
    }
    const walk = walkLargeSource(this.#walkRunner(request.fs), source, options);
    // `copy` may never come (another caller's sync failed first): then nobody awaits it.
    walk.catch(() => undefined);
    this.#earlyWalks.set(id, walk);
  }

  /** Stops the worker threads (they also stop holding the process whenever idle). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }

  /**
   * What a walk on this thread takes from the record: the entries of directories that
   * did not change (`recorded_listings.ts`) and, with a snapshot `dest` on the disk, a
   * lookup there of each file that did (`prefetch.ts`); and, with the source on the
   * disk, the working directory (`WalkOptions.cwd`).
   */
  #recorded(
    previous: RecordedTable | undefined,
    dest: string,
    destFs: FileSystem,
  ): Pick<WalkOptions, "listings" | "prefetch" | "cwd"> | undefined {
    if (!previous || this.#options.reuseListings === false) return undefined;
    const listings = new RecordedListings(previous);
    const here = isDiskFs(this.#sourceFs()) ? { cwd } : {};
    if (!isDiskFs(this.#syncFs(destFs))) return { listings, ...here };
    return { listings, prefetch: diskPrefetcher(dest), ...here };
  }

  /** Recorded entries from which a source is walked on several threads. */
  #parallelWalkEntries(): number {
    return this.#options.parallelWalk ?? PARALLEL_WALK_ENTRIES;
  }

  #walkOptions(id: RemoteIdentifier): WalkOptions {
    const excludes = [...(this.#options.excludes ?? []), ...excludesOf(id)];
    return { excludes, followRootSymlink: this.#options.followRootSymlink ?? true };
  }

  #sourceOf(id: RemoteIdentifier): string {
    const dir = this.#options.root ?? id.path;
    if (typeof dir !== "string" || dir === "") {
      throw new FSCacheError(
        "ERR_INVALID_OPTION",
        "local transport: give the source directory as `path` of the request",
        {
          key: id.key,
        },
      );
    }
    if (!dir.startsWith("/")) {
      throw new FSCacheError("ERR_INVALID_PATH", `local transport: source directory must be absolute: ${dir}`, {
        key: id.key,
        path: dir,
      });
    }
    return dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  }

  /** `node:fs` itself becomes {@linkcode diskFs}, which keeps names that are not UTF-8. */
  #syncFs(fs: FileSystem): SyncFs {
    return keepingByteNames(nodeStyleModuleOf(fs) ?? fs) as unknown as SyncFs;
  }

  #sourceFs(): SyncFs {
    return this.#options.sourceFs ? this.#syncFs(this.#options.sourceFs) : (diskFs as unknown as SyncFs);
  }

  /** Threads a sync into `destFs` may use: none but this one unless both sides are the real disk. */
  #threads(destFs: FileSystem): number {
    if (!isDiskFs(this.#sourceFs()) || !isDiskFs(this.#syncFs(destFs)) || this.#options.threads === false) return 0;
    const threads = this.#options.concurrency ?? availableParallelism();
    // The calling thread is one of them: one thread is no worker at all.
    return threads < 2 ? 0 : threads;
  }

  /** Workers for `size` threads: the calling thread is the one more. */
  #workers(size: number): WorkerPool {
    this.#pool ??= new WorkerPool(siblingModule(import.meta.url, "worker"), size - 1);
    return this.#pool;
  }

  /** Where a source walk runs: see {@linkcode Runner}. */
  #walkRunner(destFs: FileSystem): WalkRunner {
    const src = this.#sourceFs();
    const size = this.#threads(destFs);
    const inline = { src, parallel: 1, run: (task: Task) => walkInSlices(src, task) };
    if (size === 0) return inline;
    return { ...inline, parallel: size, offload: (task, worker) => this.#offload(size, task, worker) };
  }

  #offload(size: number, task: Task, worker?: number): Promise<unknown> {
    return this.#workers(size).run(task as unknown as Record<string, unknown>, [], worker);
  }

  #runner(destFs: FileSystem, updater: CacheUpdater): Runner {
    const dst = this.#syncFs(destFs);
    const src = this.#sourceFs();
    const walk = (task: Extract<Task, { op: "walk" }>) => walkInSlices(task.side === "src" ? src : dst, task);
    const context: TaskContext = { src, dst, sha256: updater.sha256 };
    const inline: Runner = {
      src,
      parallel: 1,
      run: async (task) => {
        if (task.op === "walk") return walk(task);
        await nextTurn();
        return runTask(context, task);
      },
    };
    const size = this.#threads(destFs);
    if (size === 0) return inline;
    const offload = (task: Task, worker?: number) => this.#offload(size, task, worker);
    return {
      src,
      parallel: size,
      inline,
      offload,
      run: (task) => (task.op === "walk" ? walk(task) : offload(task)),
    };
  }
}

/**
 * Walks here in slices between event-loop turns: starting a worker (a thread plus
 * loading modules) costs more than walking 10k entries, and a no-op sync only walks.
 */
async function walkInSlices(fs: SyncFs, task: Task): Promise<WalkResult> {
  if (task.op !== "walk") throw new Error(`not a walk: ${task.op}`);
  const walker = new TreeWalker(fs, task.root, task.options);
  while (!walker.step(WALK_SLICE)) await nextTurn();
  return walker.result();
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function excludesOf(id: RemoteIdentifier): string[] {
  const extra = id.excludes;
  if (extra === undefined) return [];
  if (!Array.isArray(extra) || !extra.every((p) => typeof p === "string")) {
    throw new FSCacheError("ERR_INVALID_OPTION", "local transport: `excludes` must be an array of patterns", {
      key: id.key,
    });
  }
  return extra;
}
