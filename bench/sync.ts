/**
 * Benchmark: fscache's local sync against rsync and cp on the same trees, same run.
 *
 *   npm run bench:sync            (needs rsync and hyperfine: apt-get install rsync hyperfine)
 *   npm run bench:sync -- --quick (fewer runs)   --keep-env (keep NODE_EXTRA_CA_CERTS: see _node_start.ts)
 *   --settle N  (seconds to wait before the first timed copy, default 45: see _settle.ts)
 *
 * Trees: "small" = 10,000 files / ~150 MB, "many" = 100,000 files of 100 B–2 KiB.
 * Cases: (a) first sync into an empty destination, vs `rsync -a --delete` and `cp -a`;
 * (b) no-op resync vs rsync's; (c) resync after 1% of files changed vs rsync's.
 * fscache is the built CLI, `fscache sync --root <cache> <src>`, a fresh process per sync
 * (node startup, opening the cache, saving its records and the release included).
 * Each first copy starts with no dirty pages (`sync` in its prepare step), so none pays
 * for writing back what the runs before it wrote.
 * Old destinations are moved aside between runs and deleted only at the end: on ext4,
 * creating many files soon after deleting many is several times slower. First syncs are
 * interleaved, one of each tool per round (see `RunOrder.interleave`).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fmt, hyperfine, ratioCell, type Timing } from "./_hyperfine.ts";
import { nodeStartEnvironment } from "./_node_start.ts";
import { settle } from "./_settle.ts";
import { generate, manySize, smallSize, touch } from "./_trees.ts";

const here = new URL(".", import.meta.url).pathname;
const cli = join(here, "..", "..", "dist", "cli", "bin.cjs");
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
const startLine = nodeStartEnvironment();
console.error(startLine);
const quick = args.includes("--quick");
const settleLine = await settle(args);
console.error(settleLine);
const work = fs.mkdtempSync(join(tmpdir(), "fscache-bench-"));
const trash = join(work, "trash");
fs.mkdirSync(trash);
const rows: string[][] = [];

try {
  for (const [name, files, sizeOf] of [
    ["small", 10_000, smallSize],
    ["many", 100_000, manySize],
  ] as const) {
    const src = join(work, `${name}-src`);
    const bytes = generate(src, files, sizeOf);
    console.error(`\n## ${name}: ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    const dst = (tool: string) => join(work, `${name}-${tool}`);
    // `sync` before each first copy: the kernel writes dirty pages back ~30 s after they
    // were written, so without it a run pays, at random, for the data of runs before it.
    const aside = (path: string) => `mv ${path} ${trash}/$(date +%s%N) 2>/dev/null; sync`;
    const fscache = (cacheDir: string) => `node ${cli} sync --quiet --root ${cacheDir} ${src}`;
    const runs = quick ? 2 : 5;
    const first = hyperfine(
      work,
      `${name}-first`,
      runs,
      [
        ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, aside(dst("rsync"))],
        ["cp -a", `cp -a ${src} ${dst("cp")}`, aside(dst("cp"))],
        ["fscache", fscache(dst("fscache")), aside(dst("fscache"))],
      ],
      { interleave: true },
    );
    report(rows, name, "first sync", first, ["rsync", "cp -a"]);
    const noop = hyperfine(work, `${name}-noop`, quick ? 3 : 10, [
      ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, "true"],
      ["fscache", fscache(dst("fscache")), "true"],
    ]);
    report(rows, name, "no-op resync", noop, ["rsync"]);
    const touchCmd = `node ${join(here, "sync.js")} --touch ${src} 0.01 $(date +%N)`;
    const onePercent = hyperfine(work, `${name}-1pct`, quick ? 3 : 10, [
      ["rsync", `rsync -a --delete ${src}/ ${dst("rsync")}/`, touchCmd],
      ["fscache", fscache(dst("fscache")), touchCmd],
    ]);
    report(rows, name, "1% changed", onePercent, ["rsync"]);
    const diff = spawnSync("diff", ["-r", "--no-dereference", src, firstSnapshot(dst("fscache"))]);
    if (diff.status !== 0) throw new Error(`fscache snapshot differs from the source:\n${diff.stdout}`);
  }
  console.log(`\nload average at the end: ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`);
  console.log(startLine);
  console.log(settleLine);
  console.log("\n| tree | case | fscache | peer | peer time | fscache / peer | load avg |");
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

function report(rows: string[][], tree: string, what: string, times: Map<string, Timing>, peers: string[]): void {
  const ours = times.get("fscache") as Timing;
  const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0] as string;
  for (const peer of peers) {
    const theirs = times.get(peer) as Timing;
    rows.push([tree, what, `${fmt(ours)}`, peer, `${fmt(theirs)}`, ratioCell(ours, theirs), load]);
  }
}

function firstSnapshot(cacheDir: string): string {
  const snapshots = join(cacheDir, "snapshots");
  return join(snapshots, fs.readdirSync(snapshots)[0] as string);
}
