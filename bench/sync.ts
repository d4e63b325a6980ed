/**
 * Benchmark: fscache's local sync against rsync and cp on the same trees, same run.
 *
 *   npm run bench:sync            (needs rsync and hyperfine: apt-get install rsync hyperfine)
 *   npm run bench:sync -- --quick (fewer runs)
 *
 * Trees: "small" = 10,000 files / ~150 MB, "many" = 100,000 files of 100 B–2 KiB.
 * Cases: (a) first sync into an empty destination, vs `rsync -a --delete` and `cp -a`;
 * (b) no-op resync vs rsync's; (c) resync after 1% of files changed vs rsync's.
 * fscache is the built CLI, `fscache sync --root <cache> <src>`, a fresh process per sync
 * (node startup, opening the cache, saving its records and the release included).
 * Old destinations are moved aside between runs and deleted only at the end: on ext4,
 * creating many files soon after deleting many is several times slower.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { seededRandom } from "../tests/_helpers.ts";

const here = new URL(".", import.meta.url).pathname;
const cli = join(here, "..", "..", "dist", "cli", "main.js");
const args = process.argv.slice(2);

if (args[0] === "--touch") {
  touch(args[1] as string, Number(args[2]), Number(args[3]));
  process.exit(0);
}

for (const tool of ["rsync", "hyperfine"]) {
  if (spawnSync(tool, ["--version"]).status !== 0) {
    console.error(
      `${tool} is missing: install it with  apt-get install -y rsync hyperfine  (or your OS's package manager)`,
    );
    process.exit(1);
  }
}

if (!fs.existsSync(cli)) {
  console.error("build the CLI first: npm run build");
  process.exit(1);
}
const quick = args.includes("--quick");
const work = fs.mkdtempSync(join(tmpdir(), "fscache-bench-"));
const trash = join(work, "trash");
fs.mkdirSync(trash);
const rows: string[][] = [];

try {
  for (const [name, files, sizeOf] of [
    ["small", 10_000, smallSize],
    ["many", 100_000, (r: () => number) => 100 + Math.floor(r() * 1948)],
  ] as const) {
    const src = join(work, `${name}-src`);
    const bytes = generate(src, files, sizeOf);
    console.error(`\n## ${name}: ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    const dst = (tool: string) => join(work, `${name}-${tool}`);
    const aside = (path: string) => `mv ${path} ${trash}/$(date +%s%N) 2>/dev/null; true`;
    const fscache = (cacheDir: string) => `node ${cli} sync --quiet --root ${cacheDir} ${src}`;
    const runs = quick ? 2 : 5;
    const first = hyperfine(`${name}-first`, runs, [
      ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, aside(dst("rsync"))],
      ["cp -a", `cp -a ${src} ${dst("cp")}`, aside(dst("cp"))],
      ["fscache", fscache(dst("fscache")), aside(dst("fscache"))],
    ]);
    report(rows, name, "first sync", first, ["rsync", "cp -a"]);
    const noop = hyperfine(`${name}-noop`, quick ? 3 : 10, [
      ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, "true"],
      ["fscache", fscache(dst("fscache")), "true"],
    ]);
    report(rows, name, "no-op resync", noop, ["rsync"]);
    const touchCmd = `node ${join(here, "sync.js")} --touch ${src} 0.01 $(date +%N)`;
    const onePercent = hyperfine(`${name}-1pct`, quick ? 3 : 10, [
      ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, touchCmd],
      ["fscache", fscache(dst("fscache")), touchCmd],
    ]);
    report(rows, name, "1% changed", onePercent, ["rsync"]);
    const diff = spawnSync("diff", ["-r", "--no-dereference", src, firstSnapshot(dst("fscache"))]);
    if (diff.status !== 0) throw new Error(`fscache snapshot differs from the source:\n${diff.stdout}`);
  }
  console.log(`\nload average at the end: ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`);
  console.log("\n| tree | case | fscache | peer | peer time | fscache / peer | load avg |");
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

interface Timing {
  median: number;
  min: number;
  max: number;
}

function hyperfine(label: string, runs: number, commands: [string, string, string][]): Map<string, Timing> {
  const out = join(work, `${label}.json`);
  const argv = ["--runs", String(runs), "--export-json", out, "--style", "basic"];
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

function report(rows: string[][], tree: string, what: string, times: Map<string, Timing>, peers: string[]): void {
  const ours = times.get("fscache") as Timing;
  const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0] as string;
  for (const peer of peers) {
    const theirs = times.get(peer) as Timing;
    rows.push([
      tree,
      what,
      `${fmt(ours)}`,
      peer,
      `${fmt(theirs)}`,
      `**${(ours.median / theirs.median).toFixed(2)}×**`,
      load,
    ]);
  }
}

function fmt(t: Timing): string {
  return `${t.median.toFixed(3)} s (${t.min.toFixed(3)}–${t.max.toFixed(3)})`;
}

/** Source-code-like sizes: log-uniform 32 B–256 KiB plus up to 2 KiB; ~17 KiB mean. */
function smallSize(random: () => number): number {
  return Math.floor(2 ** (7 + random() * 12) * 0.25 + random() * 2048);
}

function generate(root: string, files: number, sizeOf: (r: () => number) => number): number {
  const random = seededRandom(files);
  const pool = randomBytes(4 << 20);
  let total = 0;
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${i % 10}`, `e${Math.floor(i / 10) % 10}`, `f${Math.floor(i / 100) % 10}`);
    if (i < 1000) fs.mkdirSync(dir, { recursive: true });
    const size = sizeOf(random);
    const at = Math.floor(random() * (pool.length - size));
    fs.writeFileSync(join(dir, `file${i}.txt`), pool.subarray(at, at + size));
    total += size;
  }
  return total;
}

/** Rewrites `fraction` of the files (new content, new mtime): what an edit session leaves. */
function touch(root: string, fraction: number, seed: number): void {
  const random = seededRandom(seed);
  const all = (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => p.endsWith(".txt"));
  const count = Math.max(1, Math.round(all.length * fraction));
  for (let i = 0; i < count; i++) {
    const path = join(root, all[Math.floor(random() * all.length)] as string);
    fs.appendFileSync(path, `edit ${seed} ${i}\n`);
  }
}

function firstSnapshot(cacheDir: string): string {
  const snapshots = join(cacheDir, "snapshots");
  return join(snapshots, fs.readdirSync(snapshots)[0] as string);
}
