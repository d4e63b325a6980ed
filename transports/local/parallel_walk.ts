/**
 * The source walk of a large tree split between threads: each takes a run of the
 * root's entries, sized by what the last sync recorded below them, and the runs are
 * joined in order (walk order is preserved: the root's names are sorted).
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
 * Walks the source: here, or — when the last sync recorded a large tree and workers may
 * be used — split by the root's entries between this thread and workers, each share
 * sized by what the record holds below those entries.
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
  const parts = runner.parallel;
  if (!runner.offload || parts < 2 || !previous || previous.size < threshold) {
    return (await runner.run(task)) as WalkResult;
  }
  const shares = splitNames(rootNames(runner.src, root, options), previous, parts);
  const offload = runner.offload.bind(runner);
  const walks = (await Promise.all(
    shares.map((only, i) => (i === 0 ? runner.run(share(only)) : offload(share(only)))),
  )) as WalkResult[];
  return concatWalks(walks);

  function share(only: string[]): Task {
    return { ...task, options: { ...options, only } };
  }
}

/** Splits sorted root names into up to `parts` runs of about equal recorded entries. */
function splitNames(names: string[], previous: RecordedTree, parts: number): string[][] {
  const weight = new Map<string, number>();
  const paths = previous instanceof RecordedTable ? previous.paths : Array.from(previous.entries(), ([p]) => p);
  for (const path of paths) {
    const slash = path.indexOf("/");
    const top = slash === -1 ? path : path.slice(0, slash);
    weight.set(top, (weight.get(top) ?? 0) + 1);
  }
  let total = 0;
  for (const name of names) total += weight.get(name) ?? 1;
  const shares: string[][] = [[]];
  let sum = 0;
  for (const name of names) {
    const w = weight.get(name) ?? 1;
    const current = shares[shares.length - 1] as string[];
    // Start the next share once this one holds its part, unless it is the last.
    if (current.length > 0 && shares.length < parts && sum + w / 2 > (total * shares.length) / parts) {
      shares.push([name]);
    } else current.push(name);
    sum += w;
  }
  return shares;
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
