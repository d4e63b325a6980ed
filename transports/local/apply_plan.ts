/**
 * Carrying out a sync's plan: deletes, directories, then the files in batches shared by
 * the calling thread and worker lanes, then directories' times; every change reported
 * to the cache's updater with its checksum.
 * @module
 */
import { LISTING_KEY_AT } from "../../core/table_columns.ts";
import type { CacheUpdater, EntryStat } from "../../core/types.ts";
import type { BatchResult, EntryBatch } from "./apply.ts";
import type { Runner, SyncSummary } from "./local_transport.ts";
import type { Plan, PlannedEntry } from "./plan.ts";
import type { Task } from "./tasks.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, STAT_FIELDS, type WalkResult } from "./walk.ts";

const FILES_PER_BATCH = 256;
const BYTES_PER_BATCH = 8 << 20;
const BATCHES_PER_WORKER = 8;
/** New directories from which the calling thread and a worker make them together. */
const PARALLEL_DIRS = 256;

/**
 * Applies `plan` (made from the walk `src`) to `dest` with `runner`, reporting each
 * change to `updater`; returns what was done.
 *
 * @example
 * ```ts
 * const summary = await applyPlan(runner, plan, src, "/home/me/app", snapshotDir, updater, signal, false);
 * ```
 */
export async function applyPlan(
  runner: Runner,
  plan: Plan,
  src: WalkResult,
  source: string,
  dest: string,
  updater: CacheUpdater,
  signal: AbortSignal,
  owners: boolean,
): Promise<SyncSummary> {
  const summary: SyncSummary = {
    added: 0,
    modified: 0,
    deleted: plan.deletes.length,
    unchanged: plan.unchanged,
    bytesCopied: 0,
    skipped: src.skipped,
  };
  if (plan.deletes.length > 0) {
    await runner.run({ op: "delete", dest, paths: plan.deletes });
    for (const path of plan.deletes) updater.handleChange("delete", path);
  }
  // Directories whose mtime a rewritten file moved (see `PlannedEntry.parent`).
  const metaDirs = new Set(plan.metaDirs);
  const reporter = new WalkOrderReporter(src, plan.dirs, updater, summary, (parent) => metaDirs.add(parent));
  if (plan.dirs.length > 0) {
    signal.throwIfAborted();
    const runs = dirRuns(runner, plan.dirs);
    // Both runs end before a failure is reported, as the file batches below do.
    const results = await Promise.allSettled(
      runs.map(({ entries, run }) => run({ op: "dirs", dest, batch: batchOf(src, entries), owners })),
    );
    for (const result of results) {
      if (result.status === "rejected") throw result.reason;
      reporter.dirsMade(result.value as BatchResult);
    }
  }
  let next = 0;
  let failed = false;
  const whole = splitFiles(src, plan.files);
  // The calling thread copies too, so `parallel` threads copy with one fewer worker. A
  // worker costs about what eight batches of small files do to start: fewer lanes for
  // a short change set, so no worker starts only to find the work gone.
  const here = runner.inline ?? runner;
  const workers = runner.inline ? runner.parallel - 1 : 0;
  const workerLanes = Math.min(workers, Math.ceil(whole.length / BATCHES_PER_WORKER));
  const helping = whole.length > workerLanes;
  const batches = quarterTail(whole, workerLanes + (helping ? 1 : 0));
  // `worker`: the lane feeds that worker thread (numbered from 0), else it runs here.
  const lane = async (runner: Runner, worker: number | undefined) => {
    const { offload } = runner;
    const pinned = worker !== undefined && offload !== undefined;
    const run = pinned ? (task: Task) => offload(task, worker) : (task: Task) => runner.run(task);
    if (worker !== undefined) {
      // With the calling thread copying meanwhile, a worker takes its first batch only
      // once it is up (an empty task answers then): a batch handed to a worker still
      // starting left the calling thread waiting for it at the end.
      if (helping) await run({ op: "delete", dest, paths: [] });
    }
    const take = (): Promise<void> | undefined => {
      if (next >= batches.length || failed) return undefined;
      if (signal.aborted) failed = true;
      signal.throwIfAborted();
      const batch = next++;
      const entries = batches[batch] as PlannedEntry[];
      const task: Task = { op: "files", source, dest, batch: batchOf(src, entries), owners };
      const done = run(task).then(
        (result) => reporter.filesCopied(batch, entries, result as BatchResult),
        (err) => {
          failed = true;
          throw err;
        },
      );
      done.catch(() => undefined); // awaited below; a failure while queued is not unhandled
      return done;
    };
    // A worker has its next batch already when it answers: this thread, busy with
    // a batch of its own or with results, left it idle a few milliseconds a batch.
    const depth = pinned ? 2 : 1;
    const queued: Promise<void>[] = [];
    try {
      for (;;) {
        while (queued.length < depth) {
          const batch = take();
          if (!batch) break;
          queued.push(batch);
        }
        const head = queued.shift();
        if (!head) return;
        await head;
      }
    } finally {
      await Promise.allSettled(queued);
    }
  };
  const running = Array.from({ length: workerLanes }, (_, k) => lane(runner, k));
  // The calling thread copies batches too, between event-loop turns, from the start to
  // the end: it would otherwise idle while the workers start (50–200 ms), most of a
  // resync of a thousand files, and then while they copy. It used to leave the rest to
  // one worker per core once they were up; on two cores that kept three threads busy
  // and started a worker more, and a 10k-file first sync took ~15% more CPU time.
  if (helping) running.push(lane(here, undefined));
  // Wait for every batch in flight even after a failure or abort: a worker still writing
  // into the snapshot would race with the sync that repairs it.
  const lanes = await Promise.allSettled(running);
  for (const lane of lanes) if (lane.status === "rejected") throw lane.reason;
  signal.throwIfAborted();
  reporter.finish();
  if (metaDirs.size > 0) {
    // Children first: setting a directory's time must come after everything inside it.
    const order = [...metaDirs].sort((a, b) => b - a);
    await runner.run({
      op: "meta",
      dest,
      batch: batchOf(
        src,
        order.map((index) => ({ index })),
      ),
    });
  }
  return summary;
}

/**
 * Reports a sync's changes to the updater in walk order, directories between their
 * files, whichever order the threads finish in: a first sync's tree then takes each
 * entry after the one before and needs no sort at the end (on 100k entries the sort
 * and the copy into order cost ~45 ms of the tail).
 */
class WalkOrderReporter {
  readonly #src: WalkResult;
  readonly #dirs: PlannedEntry[];
  readonly #updater: CacheUpdater;
  readonly #summary: SyncSummary;
  readonly #moved: (dir: number) => void;
  readonly #dirSums: (string | null)[] = [];
  #dirsReported = 0;
  /** File batches answered out of turn, waiting for the ones before them. */
  readonly #answered = new Map<number, { entries: PlannedEntry[]; result: BatchResult }>();
  #batchesReported = 0;

  /** `moved` is told each directory whose mtime a file that was not rewritten in place moved. */
  constructor(
    src: WalkResult,
    dirs: PlannedEntry[],
    updater: CacheUpdater,
    summary: SyncSummary,
    moved: (dir: number) => void,
  ) {
    this.#src = src;
    this.#dirs = dirs;
    this.#updater = updater;
    this.#summary = summary;
    this.#moved = moved;
  }

  /** The next run of the directories was made (each is reported after the files before it). */
  dirsMade(result: BatchResult): void {
    this.#dirSums.push(...result.checksums);
  }

  /** File batch number `batch` (numbered from 0 in walk order) was copied. */
  filesCopied(batch: number, entries: PlannedEntry[], result: BatchResult): void {
    entries.forEach((entry, i) => {
      if (entry.parent !== undefined && result.inPlace?.[i] !== 1) this.#moved(entry.parent);
    });
    this.#answered.set(batch, { entries, result });
    for (;;) {
      const next = this.#answered.get(this.#batchesReported);
      if (!next) return;
      this.#answered.delete(this.#batchesReported++);
      this.#summary.bytesCopied += next.result.bytes;
      next.entries.forEach((entry, i) => {
        this.#dirsBefore(entry.index);
        this.#report(entry, next.result.checksums[i], next.result.restated[i] ?? null);
      });
    }
  }

  /** Every batch was copied: the directories after the last file. */
  finish(): void {
    this.#dirsBefore(Number.POSITIVE_INFINITY);
  }

  #dirsBefore(index: number): void {
    for (; this.#dirsReported < this.#dirSums.length; this.#dirsReported++) {
      const entry = this.#dirs[this.#dirsReported] as PlannedEntry;
      if (entry.index >= index) return;
      this.#report(entry, this.#dirSums[this.#dirsReported], null);
    }
  }

  #report(entry: PlannedEntry, checksum: string | null | undefined, restated: number[] | null): void {
    const src = this.#src;
    const path = src.paths[entry.index] as string;
    if (checksum === null || checksum === undefined) {
      // Vanished from the source after the walk: gone from the snapshot too.
      if (entry.kind === "modify") {
        this.#summary.deleted++;
        this.#updater.handleChange("delete", path);
      }
      return;
    }
    const stat = restated ? entryStat(restated, 0, src.links[entry.index] as string) : statOf(src, entry.index);
    if (entry.kind === "add") this.#summary.added++;
    else if (!entry.keyOnly) this.#summary.modified++;
    this.#updater.handleChange(entry.kind, path, checksum, stat);
  }
}

/**
 * The directories to make, in two runs when there are many: one for the calling thread,
 * one for the first worker (which `prepare` started). A first sync makes a directory per
 * ~10 files, at ~0.1 ms each here, and one thread making them all left the other core
 * idle for most of 0.1 s per thousand. Only when every one is new: a directory made
 * early as the other run's parent is then one this sync makes anyway (`makeAddedDir`).
 */
function dirRuns(runner: Runner, dirs: PlannedEntry[]): { entries: PlannedEntry[]; run: Runner["run"] }[] {
  const { inline, offload } = runner;
  if (!inline || !offload || dirs.length < PARALLEL_DIRS || dirs.some((d) => d.kind !== "add")) {
    return [{ entries: dirs, run: (task) => runner.run(task) }];
  }
  const half = dirs.length >> 1;
  return [
    { entries: dirs.slice(0, half), run: (task) => inline.run(task) },
    { entries: dirs.slice(half), run: (task) => offload(task, 0) },
  ];
}

/** Batches of files bounded in count and bytes, so work spreads and an abort stops soon. */
function splitFiles(src: WalkResult, files: PlannedEntry[]): PlannedEntry[][] {
  const out: PlannedEntry[][] = [];
  let current: PlannedEntry[] = [];
  let bytes = 0;
  for (const entry of files) {
    current.push(entry);
    bytes += src.stats[entry.index * STAT_FIELDS + 3] as number;
    if (current.length >= FILES_PER_BATCH || bytes >= BYTES_PER_BATCH) {
      out.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * `batches` with the last few, as many as `lanes` (the threads copying) take at once,
 * cut into quarters: the threads run out of work together, where one took a last whole
 * batch (~0.1 s) alone while the others waited.
 */
function quarterTail(batches: PlannedEntry[][], lanes: number): PlannedEntry[][] {
  // One thread alone has no one to wait for: quarters would only cost it turns.
  if (lanes < 2) return batches;
  const out = batches.slice(0, Math.max(0, batches.length - lanes));
  for (const batch of batches.slice(out.length)) {
    const quarter = Math.ceil(batch.length / 4);
    for (let i = 0; i < batch.length; i += quarter) out.push(batch.slice(i, i + quarter));
  }
  return out;
}

function batchOf(src: WalkResult, entries: readonly { index: number; kind?: PlannedEntry["kind"] }[]): EntryBatch {
  const stats = new Float64Array(entries.length * STAT_FIELDS);
  const added = new Uint8Array(entries.length);
  const paths: string[] = [];
  const links: string[] = [];
  entries.forEach(({ index, kind }, i) => {
    paths.push(src.paths[index] as string);
    links.push(src.links[index] as string);
    if (kind === "add") added[i] = 1;
    for (let f = 0; f < STAT_FIELDS; f++) stats[i * STAT_FIELDS + f] = src.stats[index * STAT_FIELDS + f] as number;
  });
  return { paths, stats, links, added };
}

function statOf(src: WalkResult, index: number): EntryStat {
  return entryStat(src.stats, index * STAT_FIELDS, src.links[index] as string);
}

function entryStat(stats: ArrayLike<number>, o: number, link: string): EntryStat {
  const mode = stats[o] as number;
  const stat: EntryStat = {
    mode,
    uid: stats[o + 1] as number,
    gid: stats[o + 2] as number,
    size: (mode & S_IFMT) === S_IFREG ? (stats[o + 3] as number) : 0,
    mtimeMs: stats[o + 4] as number,
  };
  if ((mode & S_IFMT) === S_IFLNK) stat.linkname = link;
  const key = stats[o + LISTING_KEY_AT] as number;
  if ((mode & S_IFMT) === S_IFDIR && !Number.isNaN(key)) stat.listingKey = key;
  return stat;
}
