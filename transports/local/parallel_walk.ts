/**
 * The source walk of a large tree shared between threads: the root's entries are cut
 * into runs of about equal size (by what the last sync recorded below them, or by
 * count when there is no record, as in a first sync), and the
 * calling thread and the workers take runs from a common queue until it is empty. The
 * runs are joined in order (walk order is preserved: the root's names are sorted). The
 * queue is shared with the push client's walk (`../run_queue.ts`).
 * @module
 */
import { RecordedTable } from "../../core/recorded_table.ts";
import type { RecordedTree } from "../../core/types.ts";
import { excludeMatcher } from "../diffcopy/excludes.ts";
import { RunQueue, splitUnits, type Unit } from "../run_queue.ts";
import type { Runner } from "./local_transport.ts";
import { lstatOrUndefined, type SyncFs } from "./sync_fs.ts";
import type { Task } from "./tasks.ts";
import { rootNames, type WalkOptions, type WalkResult } from "./walk.ts";

/**
 * A source whose last sync recorded this many entries is walked by several threads at
 * once: a worker costs tens of milliseconds to start, walking 100k entries hundreds.
 */
export const PARALLEL_WALK_ENTRIES = 20_000;
/**
 * Runs per thread. A worker joins 50–200 ms late (it has to start), so equal fixed
 * shares left the calling thread idle at the end waiting for it; with several runs
 * each, whoever is free takes the next, and the last run is short (with four per
 * thread, a worker still idled ~250 ms of a 100k-entry walk waiting for the last one).
 */
const RUNS_PER_THREAD = 8;

/** What a shared walk needs of a {@linkcode Runner}. */
export type WalkRunner = Pick<Runner, "run" | "offload" | "src" | "parallel">;

/**
 * Walks the source: here, or — when workers may be used and the last sync recorded a
 * large tree, or nothing was recorded — on this thread and workers together, each
 * taking runs of the root's entries from a shared queue. `recorded` (`listings` from
 * `previous`, a `prefetch` hook, the working directory) spares a walk on this thread
 * reading directories that did not change; workers read every directory (they would
 * need the record sent over first).
 *
 * @example
 * ```ts
 * const src = await walkSource(runner, "/src/project", { excludes: [] }, previous);
 * ```
 */
export function walkSource(
  runner: WalkRunner,
  root: string,
  options: WalkOptions,
  previous: RecordedTree | undefined,
  threshold: number = PARALLEL_WALK_ENTRIES,
  recorded?: Pick<WalkOptions, "listings" | "prefetch" | "cwd">,
): Promise<WalkResult> {
  // Without a record (a first sync, or a repair) the size is unknown: shared all the same,
  // since a worker that is not up when this thread has taken every run is not waited for.
  if (!runner.offload || runner.parallel < 2 || (previous && previous.size < threshold)) {
    return walkHere(runner, root, recorded ? { ...options, ...recorded } : options);
  }
  return walkShared(runner, root, options, previous, false);
}

/**
 * Starts the walk of a source known to be large (its last sync recorded that many
 * entries) before that record is decoded, which keeps this thread busy for a tenth of a
 * second on 100k entries: the runs are cut by count, and each worker is handed its
 * first runs at once, to start on as soon as it is up, instead of after this thread has
 * seen it answer.
 *
 * @example
 * ```ts
 * const early = walkLargeSource(runner, "/src/project", { excludes: [] });
 * decodeRecord();
 * const src = await early;
 * ```
 */
export function walkLargeSource(runner: WalkRunner, root: string, options: WalkOptions): Promise<WalkResult> {
  if (!runner.offload || runner.parallel < 2) return walkHere(runner, root, options);
  return walkShared(runner, root, options, undefined, true);
}

async function walkHere(runner: WalkRunner, root: string, options: WalkOptions): Promise<WalkResult> {
  return (await runner.run({ op: "walk", side: "src", root, options })) as WalkResult;
}

async function walkShared(
  runner: WalkRunner,
  root: string,
  options: WalkOptions,
  previous: RecordedTree | undefined,
  early: boolean,
): Promise<WalkResult> {
  const task = { op: "walk", side: "src", root, options } as const;
  const threads = runner.parallel;
  const offload = (runner.offload as NonNullable<Runner["offload"]>).bind(runner);
  const share = (only: readonly string[]): Task => ({ ...task, options: { ...options, only } });
  // An empty share first: it starts each worker now, and answers once the worker is up.
  // An early walk hands its workers runs without waiting for that answer: this thread is
  // about to be busy for longer than a worker takes to start.
  const started = early ? [] : Array.from({ length: threads - 1 }, (_, k) => offload(share([]), k));
  // Handled here too: the walk may fail (or end) before a lane awaits its worker, and a
  // worker pool closed meanwhile rejects the ping.
  for (const up of started) up.catch(() => undefined);
  const runs = splitUnits(
    walkUnits(runner.src, root, options, previous, threads * RUNS_PER_THREAD),
    threads * RUNS_PER_THREAD,
    true,
  );
  const queue = new RunQueue<WalkResult>(runs.length);
  const here = async () => {
    for (let i = queue.takeFront(); i !== -1; i = queue.takeFront()) {
      queue.results[i] = (await runner.run(share(runs[i] as string[]))) as WalkResult;
    }
  };
  // Each worker's runs go to that worker (`k`): its next run is already queued there when
  // it answers. A worker still starting once this thread has taken every run (a small
  // tree) is not waited for.
  const worker = (up: Promise<unknown> | undefined, k: number) =>
    queue.workerLane(up, async (i) => (await offload(share(runs[i] as string[]), k)) as WalkResult);
  const stopOnFailure = (err: unknown) => {
    queue.fail();
    throw err;
  };
  // An early walk's lanes come first: they hand out their runs before this thread walks
  // its first slice.
  const lanes = early
    ? Array.from({ length: threads - 1 }, (_, k) => worker(undefined, k))
    : started.map((up, k) => worker(up, k));
  await Promise.all([...lanes, here()].map((p) => p.catch(stopOnFailure)));
  return concatWalks(queue.results);
}

/**
 * The root's names in walk order, each weighed by what the record holds below it. A name
 * holding more than a run's part is opened one level down (its own entry, then each
 * child as a unit of its own), so that no run is big enough to leave the other threads
 * waiting at the end: a tree under a few top directories would otherwise split poorly.
 */
function walkUnits(
  fs: SyncFs,
  root: string,
  options: WalkOptions,
  previous: RecordedTree | undefined,
  parts: number,
): Unit[] {
  // Without a record every name weighs one: few top directories are then opened one level down.
  const weight = previous ? recordedWeights(previous) : new Map<string, number>();
  const matcher = excludeMatcher(options.excludes ?? []);
  const units: Unit[] = [];
  const names = rootNames(fs, root, options);
  let total = 0;
  for (const name of names) total += weight.get(name) ?? 1;
  for (const name of names) {
    const w = weight.get(name) ?? 1;
    // Only plain directories the excludes leave alone (an exception could re-include
    // something below an excluded one: its subtree must stay in one walk).
    if (w <= total / parts || matcher?.hasExceptions || matcher?.ignores(name) || !isPlainDir(fs, `${root}/${name}`)) {
      units.push([name, w]);
      continue;
    }
    let children: string[];
    try {
      children = fs.readdirSync(`${root}/${name}`).sort();
    } catch {
      // Gone or changed since it was listed: the walk itself will say what is there.
      units.push([name, w]);
      continue;
    }
    units.push([`${name}/`, 1]);
    for (const child of children) {
      const path = `${name}/${child}`;
      units.push([path, weight.get(path) ?? 1]);
    }
  }
  return units;
}

/**
 * Recorded entries at and below each root name and each path one level down. Walk order
 * keeps each such subtree's entries together, so each is measured by a search for its
 * end rather than by visiting its entries (a walk of 100k paths took ~20 ms).
 */
function recordedWeights(previous: RecordedTree): Map<string, number> {
  const weight = new Map<string, number>();
  const paths = previous instanceof RecordedTable ? previous.paths : Array.from(previous.entries(), ([p]) => p);
  for (let i = 0; i < paths.length; ) {
    const path = paths[i] as string;
    const slash = path.indexOf("/");
    // A directory recorded only through entries below it has no entry of its own.
    const top = slash === -1 ? path : path.slice(0, slash);
    const end = subtreeEnd(paths, i, top);
    weight.set(top, end - i);
    for (let j = slash === -1 ? i + 1 : i; j < end; ) {
      const below = paths[j] as string;
      const next = below.indexOf("/", top.length + 1);
      const second = next === -1 ? below : below.slice(0, next);
      const secondEnd = subtreeEnd(paths, j, second);
      weight.set(second, secondEnd - j);
      j = secondEnd;
    }
    i = end;
  }
  return weight;
}

/**
 * The index after the run of `paths` from `from` (which is within `dir`) that lies
 * within `dir`: galloping, then bisecting, so a one-entry subtree costs a step or two.
 */
function subtreeEnd(paths: readonly string[], from: number, dir: string): number {
  let inside = from;
  let step = 1;
  while (inside + step < paths.length && within(paths[inside + step] as string, dir)) {
    inside += step;
    step *= 2;
  }
  let outside = Math.min(inside + step, paths.length);
  while (outside - inside > 1) {
    const mid = (inside + outside) >>> 1;
    if (within(paths[mid] as string, dir)) inside = mid;
    else outside = mid;
  }
  return outside;
}

/** True when `path` is `dir` or below it (`dir` non-empty). */
function within(path: string, dir: string): boolean {
  return dir !== "" && path.startsWith(dir) && (path.length === dir.length || path.charCodeAt(dir.length) === 0x2f);
}

function isPlainDir(fs: SyncFs, path: string): boolean {
  return lstatOrUndefined(fs, path)?.isDirectory() ?? false;
}

function concatWalks(walks: WalkResult[]): WalkResult {
  if (walks.length === 1) return walks[0] as WalkResult;
  const stats = new Float64Array(walks.reduce((n, w) => n + w.stats.length, 0));
  let at = 0;
  for (const w of walks) {
    stats.set(w.stats, at);
    at += w.stats.length;
  }
  const [first, ...rest] = walks as [WalkResult, ...WalkResult[]];
  return {
    paths: first.paths.concat(...rest.map((w) => w.paths)),
    stats,
    links: first.links.concat(...rest.map((w) => w.links)),
    skipped: first.skipped.concat(...rest.map((w) => w.skipped)),
  };
}
