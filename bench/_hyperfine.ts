/** Timing whole commands with hyperfine, shared by the benchmarks that compare with peers. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";

/** Seconds: median and range of one command's runs. */
export interface Timing {
  median: number;
  min: number;
  max: number;
}

/** How {@linkcode hyperfine} orders the runs. */
export interface RunOrder {
  /** Untimed runs of each command first (once, before everything). Default 0. */
  warmup?: number;
  /**
   * One run of each command per round, their order turned by one each round, instead of
   * all of one command's runs, then the next's. For first copies: each leaves a tree
   * behind, and creating files slows as the disk fills with them, so the command timed
   * last paid for every tree before it. Not for cases whose prepare step changes the
   * source, which every command would then see changed once per command. Default false.
   */
  interleave?: boolean;
}

/**
 * Runs `commands` (`[name, command, prepare]`) under hyperfine, `runs` times each, and
 * returns each one's timing by name; hyperfine's own report goes to the terminal.
 *
 * @example
 * ```ts
 * const first = hyperfine(work, "small-first", 5, [["cp", "cp -a src dst", "rm -rf dst"]], { interleave: true });
 * ```
 */
export function hyperfine(
  workDir: string,
  label: string,
  runs: number,
  commands: [string, string, string][],
  { warmup = 0, interleave = false }: RunOrder = {},
): Map<string, Timing> {
  const times = new Map<string, number[]>(commands.map(([name]) => [name, []]));
  const rounds = interleave ? runs : 1;
  for (let round = 0; round < rounds; round++) {
    const order = [...commands.slice(round % commands.length), ...commands.slice(0, round % commands.length)];
    const out = join(workDir, `${label}-${round}.json`);
    const argv = ["--runs", String(runs / rounds), "--export-json", out, "--style", "basic"];
    argv.push("--warmup", String(round === 0 ? warmup : 0));
    for (const [name, command, prepare] of order) argv.push("--prepare", prepare, "-n", name, command);
    execFileSync("hyperfine", argv, { stdio: ["ignore", "inherit", "inherit"] });
    const results = (JSON.parse(fs.readFileSync(out, "utf8")) as { results: { command: string; times: number[] }[] })
      .results;
    for (const r of results) times.get(r.command)?.push(...r.times);
  }
  return new Map([...times].map(([name, all]) => [name, timingOf(all)]));
}

/**
 * Median, least and greatest of `times`; the median of an even count is the mean of the
 * middle two (until round 19 it was the upper one: the slower of two runs).
 *
 * @example
 * ```ts
 * timingOf([3, 1, 2, 4]); // { median: 2.5, min: 1, max: 4 }
 * ```
 */
export function timingOf(times: readonly number[]): Timing {
  const t = [...times].sort((a, b) => a - b);
  const median = ((t[(t.length - 1) >> 1] as number) + (t[t.length >> 1] as number)) / 2;
  return { median, min: t[0] as number, max: t.at(-1) as number };
}

/** `1.234 s (1.100–1.300)`. */
export function fmt(t: Timing): string {
  return `${t.median.toFixed(3)} s (${t.min.toFixed(3)}–${t.max.toFixed(3)})`;
}

/**
 * `ours / theirs` of two medians as a table cell, in bold where it misses a goal of
 * at most 1.0×, as the README marks misses.
 *
 * @example
 * ```ts
 * ratioCell({ median: 1.2, min: 1, max: 1.4 }, { median: 1, min: 1, max: 1 }); // "**1.20×**"
 * ```
 */
export function ratioCell(ours: Timing, theirs: Timing): string {
  const ratio = ours.median / theirs.median;
  const text = `${ratio.toFixed(2)}×`;
  return ratio > 1 ? `**${text}**` : text;
}
