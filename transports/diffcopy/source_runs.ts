/**
 * The push client's walk of a large tree on several threads. The tree is cut into runs
 * in walk order (the root's entries, a directory's children one level down); the
 * calling thread walks runs from the front and streams their STATs batch by batch,
 * workers walk runs from the back (the same queue as the local transport's walk,
 * `../run_queue.ts`), and their runs are streamed in their turn. Hard links are decided
 * as each run is streamed, in walk order, so the first path of an inode still wins.
 * Runtime-agnostic: the caller says how a run is walked elsewhere.
 * @module
 */
import type { FileSystem } from "../../core/file_system.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { RunQueue, splitUnits, type Unit } from "../run_queue.ts";
import { excludeMatcher } from "./excludes.ts";
import type { SourceListings } from "./source_listings.ts";
import { linkToFirst, type SourceEntry, SourceWalker, WalkedStat } from "./source_walker.ts";

/** One run of a walk, as a message a worker can take. */
export interface SourceRunTask {
  root: string;
  excludes: readonly string[];
  only: readonly string[];
}

/** A walked run in a shape that crosses a thread boundary quickly (no object per entry). */
export interface SourceRun {
  paths: string[];
  /** Per entry: Go mode, uid, gid, size, mtime in whole µs (`WalkedStat.modTimeUs`: what a STAT carries, exactly). */
  nums: Float64Array;
  links: string[];
  /** `dev:ino` of regular files with more links; `""` for the others. */
  inodes: string[];
  /** Devices, fifos and sockets left out. */
  skipped: string[];
}

/** How runs are walked on other threads. */
export interface WalkThreads {
  /** Threads to walk on, the calling one included. */
  threads: number;
  /** Walks one run elsewhere; an empty run answers once that thread is up. */
  walk(task: SourceRunTask): Promise<SourceRun>;
  /** Entries this thread walks before workers start (default {@linkcode WALK_THREADS_AFTER}). */
  startAfter?: number;
}

const FIELDS = 5;
/** Runs per thread: whoever is free takes the next, so a late-starting worker costs little. */
const RUNS_PER_THREAD = 8;
/**
 * Entries this thread walks before it starts workers: a worker costs ~100 ms to start,
 * walking 10k entries about as much, and most trees are walked by then.
 */
export const WALK_THREADS_AFTER = 8000;

/**
 * Walks one run into its compact form (what a worker does).
 *
 * @example
 * ```ts
 * const run = walkSourceRun(fs, { root: "/src", excludes: [], only: ["a/", "a/b"] });
 * ```
 */
export function walkSourceRun(fs: FileSystem, task: SourceRunTask): SourceRun {
  const walker = new SourceWalker(fs, task.root, task.excludes, { only: task.only });
  const paths: string[] = [];
  const links: string[] = [];
  const inodes: string[] = [];
  let nums = new Float64Array(FIELDS * 1024);
  for (let batch = walker.next(Number.POSITIVE_INFINITY); batch; batch = walker.next(Number.POSITIVE_INFINITY)) {
    for (const { stat, inode } of batch) {
      let o = paths.length * FIELDS;
      if (o + FIELDS > nums.length) {
        const bigger = new Float64Array(nums.length * 2);
        bigger.set(nums);
        nums = bigger;
      }
      nums[o++] = stat.mode;
      nums[o++] = stat.uid;
      nums[o++] = stat.gid;
      nums[o++] = stat.size;
      nums[o] = stat.modTimeUs;
      paths.push(stat.path);
      links.push(inode === undefined ? stat.linkname : "");
      inodes.push(inode ?? "");
    }
  }
  return { paths, nums: nums.slice(0, paths.length * FIELDS), links, inodes, skipped: walker.skipped };
}

/** The entries of a run walked elsewhere, hard links decided against `inodes` (in walk order). */
function entriesOf(run: SourceRun, inodes: Map<string, string>): SourceEntry[] {
  const out: SourceEntry[] = [];
  const { nums } = run;
  for (let i = 0; i < run.paths.length; i++) {
    const path = run.paths[i] as string;
    const o = i * FIELDS;
    const stat = new WalkedStat(
      path,
      nums[o] as number,
      nums[o + 1] as number,
      nums[o + 2] as number,
      nums[o + 3] as number,
      nums[o + 4] as number,
      run.links[i] as string,
    );
    const entry: SourceEntry = { stat };
    const inode = run.inodes[i] as string;
    if (inode !== "") {
      entry.inode = inode;
      linkToFirst(inodes, entry);
    }
    out.push(entry);
  }
  return out;
}

/**
 * The runs a walk is cut into: the root's names in walk order, each plain directory
 * opened one level down (its own entry, then each child), so that a tree under a few
 * top directories still spreads. With `!` exceptions nothing is opened: an excluded
 * directory's subtree must stay in one walk.
 */
function sourceRuns(fs: FileSystem, root: string, excludes: readonly string[], parts: number): string[][] {
  const matcher = excludeMatcher(excludes);
  const units: Unit[] = [];
  for (const name of fs.readdirSync(root).sort(compareWalkOrder)) {
    let children: string[] | undefined;
    if (!matcher?.hasExceptions && !matcher?.ignores(name)) {
      try {
        const full = joinPath(root, name);
        if (fs.lstatSync(full).isDirectory()) children = fs.readdirSync(full).sort(compareWalkOrder);
      } catch {
        // gone or changed since it was listed: the walk itself will say what is there
      }
    }
    if (!children) {
      units.push([name, 1]);
      continue;
    }
    units.push([`${name}/`, 1]);
    for (const child of children) units.push([`${name}/${child}`, 1]);
  }
  return splitUnits(units, parts);
}

/**
 * The walk of `root` in batches of about `budget` entries, in walk order: on this thread
 * alone, or — given `threads` and once the tree proves large — with workers walking
 * the runs at its end meanwhile.
 *
 * @example
 * ```ts
 * for await (const batch of sourceBatches(fs, "/home/me/project", [], 2000)) send(batch);
 * ```
 */
export async function* sourceBatches(
  fs: FileSystem,
  root: string,
  excludes: readonly string[],
  budget: number,
  threads?: WalkThreads,
  onSkipped: (path: string) => void = () => {},
  listings?: SourceListings,
  cwd?: () => string,
): AsyncGenerator<SourceEntry[]> {
  // What this thread's walkers take, that workers' walks do not (see `SourceWalkOptions`).
  const here = { ...(listings ? { listings } : {}), ...(cwd ? { cwd } : {}) };
  // Told once a run (or the whole walk) is walked.
  const tell = (skipped: readonly string[]) => {
    for (const path of skipped) onSkipped(path);
  };
  if (!threads || threads.threads < 2) {
    const walker = new SourceWalker(fs, root, excludes, here);
    for (let batch = walker.next(budget); batch; batch = walker.next(budget)) yield batch;
    tell(walker.skipped);
    return;
  }
  const runs = sourceRuns(fs, root, excludes, threads.threads * RUNS_PER_THREAD);
  const queue = new RunQueue<SourceRun>(runs.length);
  const inodes = new Map<string, string>();
  const lanes: Promise<void>[] = [];
  const startWorkers = () => {
    for (let t = 1; t < threads.threads; t++) {
      const up = threads.walk({ root, excludes, only: [] });
      const lane = queue.workerLane(up, (i) => threads.walk({ root, excludes, only: runs[i] as string[] }));
      // a failure is thrown when its run's turn comes (or below, once this thread is done)
      lane.catch(() => queue.fail());
      lanes.push(lane);
    }
  };
  try {
    let walked = 0;
    for (let i = queue.takeFront(); i !== -1; i = queue.takeFront()) {
      // Runs walked by workers keep no listings (a worker cannot reach this thread's):
      // their directories are read again next time.
      const only = runs[i] as string[];
      const walker = new SourceWalker(fs, root, excludes, { only, inodes, ...here });
      for (let batch = walker.next(budget); batch; batch = walker.next(budget)) {
        walked += batch.length;
        const after = threads.startAfter ?? WALK_THREADS_AFTER;
        if (lanes.length === 0 && walked >= after && queue.left >= 2) startWorkers();
        yield batch;
        // a turn of the event loop: the workers' answers (the first says it is up) wait for one
        if (lanes.length > 0) await nextTurn();
      }
      tell(walker.skipped);
    }
    for (let i = queue.firstOffloaded; i < runs.length; i++) {
      const pending = queue.offloaded(i);
      if (!pending) {
        // nobody took it: a worker failed, and its error says why
        await Promise.all(lanes);
        throw new Error(`walk run ${i} was not walked`);
      }
      const run = await pending;
      tell(run.skipped);
      for (let at = 0; at < run.paths.length; at += budget) {
        const part = at === 0 && run.paths.length <= budget ? run : slice(run, at, at + budget);
        yield entriesOf(part, inodes);
      }
    }
    await Promise.all(lanes);
  } finally {
    // stopped early (a failed send): no worker takes another run
    queue.fail();
  }
}

function nextTurn(): Promise<void> {
  // not in browsers (nor in their type definitions)
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

function slice(run: SourceRun, from: number, to: number): SourceRun {
  return {
    paths: run.paths.slice(from, to),
    nums: run.nums.subarray(from * FIELDS, to * FIELDS),
    links: run.links.slice(from, to),
    inodes: run.inodes.slice(from, to),
    skipped: [],
  };
}
