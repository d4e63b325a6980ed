/**
 * The source walk of a large tree shared between threads: the root's entries are cut
 * into runs of about equal size (by what the last sync recorded below them), and the
 * calling thread and the workers take runs from a common queue until it is empty. The
 * runs are joined in order (walk order is preserved: the root's names are sorted).
 * @module
 */
import { RecordedTable } from "../../core/recorded_table.ts";
import type { RecordedTree } from "../../core/types.ts";
import type { Runner } from "./local_transport.ts";
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
 * each, whoever is free takes the next, and the last run is short.
 */
const RUNS_PER_THREAD = 4;

/**
 * Walks the source: here, or — when the last sync recorded a large tree and workers may
 * be used — on this thread and workers together, each taking runs of the root's entries
 * from a shared queue.
 *
 * @example
 * ```ts
 * const src = await walkSource(runner, "/src/project", { excludes: [] }, previous);
 * ```
 */
export async function walkSource(
  runner: Runner,
  root: string,
  options: WalkOptions,
  previous: RecordedTree | undefined,
  threshold: number = PARALLEL_WALK_ENTRIES,
): Promise<WalkResult> {
  const task = { op: "walk", side: "src", root, options } as const;
  const threads = runner.parallel;
  if (!runner.offload || threads < 2 || !previous || previous.size < threshold) {
    return (await runner.run(task)) as WalkResult;
  }
  const offload = runner.offload.bind(runner);
  const share = (only: readonly string[]): Task => ({ ...task, options: { ...options, only } });
  // An empty share first: it starts each worker now, and answers once the worker is up.
  const started = Array.from({ length: threads - 1 }, () => offload(share([])));
  const runs = splitNames(rootNames(runner.src, root, options), previous, threads * RUNS_PER_THREAD);
  const results = new Array<WalkResult>(runs.length);
  // This thread takes runs from the front, workers from the back; one failure stops all.
  let front = 0;
  let back = runs.length;
  let failed = false;
  const here = async () => {
    while (!failed && front < back) {
      const i = front++;
      results[i] = (await runner.run(share(runs[i] as string[]))) as WalkResult;
    }
  };
  const worker = async (up: Promise<unknown>) => {
    await up;
    while (!failed && front < back) {
      const i = --back;
      results[i] = (await offload(share(runs[i] as string[]))) as WalkResult;
    }
  };
  const stopOnFailure = (err: unknown) => {
    failed = true;
    throw err;
  };
  await Promise.all([here(), ...started.map(worker)].map((p) => p.catch(stopOnFailure)));
  return concatWalks(results);
}

/**
 * Cuts sorted root names into up to `parts` runs of about equal recorded entries (a
 * name with more than a run's part is a run of its own).
 */
function splitNames(names: string[], previous: RecordedTree, parts: number): string[][] {
  const weight = rootWeights(previous);
  let total = 0;
  for (const name of names) total += weight.get(name) ?? 1;
  const runs: string[][] = [[]];
  let sum = 0;
  for (const name of names) {
    const w = weight.get(name) ?? 1;
    const current = runs[runs.length - 1] as string[];
    // Start the next run once this one holds its part, unless it is the last.
    if (current.length > 0 && runs.length < parts && sum + w / 2 > (total * runs.length) / parts) {
      runs.push([name]);
    } else current.push(name);
    sum += w;
  }
  return runs;
}

/** Recorded entries at and below each root name. Walk order keeps each name's entries together. */
function rootWeights(previous: RecordedTree): Map<string, number> {
  const weight = new Map<string, number>();
  const paths = previous instanceof RecordedTable ? previous.paths : Array.from(previous.entries(), ([p]) => p);
  let top = "";
  let count = 0;
  for (const path of paths) {
    if (count > 0 && path.startsWith(top) && (path.length === top.length || path.charCodeAt(top.length) === 0x2f)) {
      count++;
      continue;
    }
    if (count > 0) weight.set(top, (weight.get(top) ?? 0) + count);
    const slash = path.indexOf("/");
    top = slash === -1 ? path : path.slice(0, slash);
    count = 1;
  }
  if (count > 0) weight.set(top, (weight.get(top) ?? 0) + count);
  return weight;
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
