/**
 * The shared format of `docs/results/*.json` (what the reliability scripts measured) and
 * the README section rendered from them, between `<!-- results:start -->` and
 * `<!-- results:end -->`, so the figures in the README are the scripts' and nobody's hand.
 * @module
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { projectRoot } from "../_helpers.ts";

/** One results file: `{ title, command, date, rows: [[label, value], …] }`. */
export interface Results {
  title: string;
  command: string;
  /** ISO date of the run. */
  date: string;
  rows: [string, number | string][];
}

export const START = "<!-- results:start -->";
export const END = "<!-- results:end -->";

/**
 * Writes `docs/results/<name>.json`, dated now.
 *
 * @example
 * ```ts
 * writeResults("kills", { title: "SIGKILL", command: "npm run kills", rows: [["data lost", lost.length]] });
 * ```
 */
export function writeResults(name: string, results: Omit<Results, "date">): string {
  const path = `${projectRoot()}/docs/results/${name}.json`;
  const dated: Results = {
    title: results.title,
    command: results.command,
    date: new Date().toISOString(),
    rows: results.rows,
  };
  writeFileSync(path, `${JSON.stringify(dated, null, 2)}\n`);
  return path;
}

/**
 * Every `docs/results/*.json`, by file name.
 *
 * @example
 * ```ts
 * const all = readResults(); // [["kills.json", { title: …, rows: … }], …]
 * ```
 */
export function readResults(dir = `${projectRoot()}/docs/results`): [string, Results][] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const value = JSON.parse(readFileSync(`${dir}/${name}`, "utf8"));
      if (typeof value?.title !== "string" || typeof value.command !== "string" || !Array.isArray(value.rows)) {
        throw new Error(`${dir}/${name} is not { title, command, date, rows }`);
      }
      return [name, value as Results];
    });
}

const cell = (value: string | number) => String(value).replaceAll("|", "\\|").replaceAll("\n", " ");

/**
 * The Markdown of the results section: a table per file, unpadded (`|a|b|`).
 *
 * @example
 * ```ts
 * renderResults(readResults()); // "### SIGKILL of the real CLI\n\n`npm run kills` …"
 * ```
 */
export function renderResults(all: [string, Results][]): string {
  return all
    .map(([name, r]) => {
      const rows = r.rows.map(([label, value]) => `|${cell(label)}|${cell(value)}|`);
      return [
        `**${r.title}** — \`${r.command}\`, ${r.date.slice(0, 10)} (\`docs/results/${name}\`)`,
        "",
        "|figure|value|",
        "|---|---|",
        ...rows,
      ].join("\n");
    })
    .join("\n\n");
}

/**
 * `readme` with the text between the markers replaced by `section`.
 *
 * @example
 * ```ts
 * replaceSection(readme, renderResults(readResults()));
 * ```
 */
export function replaceSection(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README has no ${START} … ${END} section`);
  return `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
}
