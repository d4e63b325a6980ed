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

/**
 * Runs `commands` (`[name, command, prepare]`) interleaved under hyperfine and returns each
 * one's timing by name; hyperfine's own report goes to the terminal.
 */
export function hyperfine(
  workDir: string,
  label: string,
  runs: number,
  commands: [string, string, string][],
  warmup = 0,
): Map<string, Timing> {
  const out = join(workDir, `${label}.json`);
  const argv = ["--runs", String(runs), "--warmup", String(warmup), "--export-json", out, "--style", "basic"];
  for (const [name, command, prepare] of commands) argv.push("--prepare", prepare, "-n", name, command);
  execFileSync("hyperfine", argv, { stdio: ["ignore", "inherit", "inherit"] });
  const results = (JSON.parse(fs.readFileSync(out, "utf8")) as { results: { command: string; times: number[] }[] })
    .results;
  const map = new Map<string, Timing>();
  for (const r of results) {
    const t = [...r.times].sort((a, b) => a - b);
    map.set(r.command, { median: t[Math.floor(t.length / 2)] as number, min: t[0] as number, max: t.at(-1) as number });
  }
  return map;
}

/** `1.234 s (1.100–1.300)`. */
export function fmt(t: Timing): string {
  return `${t.median.toFixed(3)} s (${t.min.toFixed(3)}–${t.max.toFixed(3)})`;
}
