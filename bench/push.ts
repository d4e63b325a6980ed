/**
 * Benchmark: `fscache push` to an `fscache serve` against rsync to an rsync daemon, both
 * on loopback, same trees as bench/sync.ts, same run.
 *
 *   npm run bench:push             (needs rsync and hyperfine: apt-get install rsync hyperfine)
 *   npm run bench:push -- --quick  (fewer runs)   --many  (also the 100,000-file tree)
 *   --keep-env  (keep NODE_EXTRA_CA_CERTS for fscache: see _node_start.ts)
 *   --settle N  (seconds to wait before the first timed push, default 45: see _settle.ts)
 *
 * Cases: first push into an empty server side, no-op push, push after 1% of files
 * changed. The servers (`fscache serve`, `rsync --daemon --no-detach`) run for the
 * whole benchmark; each client run is a fresh process, node startup included. Each first
 * push starts with no dirty pages (`sync` in its prepare step), and the server's GC budget
 * is one the runs never reach, so no run creates files right after many were deleted.
 * First pushes are interleaved, one of each tool per round (see `RunOrder.interleave`),
 * after one untimed first push of each: a server that has just started compiles its
 * code during its first push (2.1–2.8 s for the small tree, against 1.6–2.5 s after),
 * and a long-running server has done that once, not once per push.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fmt, hyperfine, ratioCell, type Timing } from "./_hyperfine.ts";
import { nodeStartEnvironment } from "./_node_start.ts";
import { settle } from "./_settle.ts";
import { generate, manySize, smallSize, touch } from "./_trees.ts";

const here = new URL(".", import.meta.url).pathname;
// The npm bin (the bundle `npm run build` makes), as users run it, for server and client.
const cliMain = join(here, "..", "..", "dist", "cli", "bin.cjs");
const args = process.argv.slice(2);

if (args[0] === "--touch") {
  touch(args[1] as string, Number(args[2]), Number(args[3]));
  process.exit(0);
}

for (const tool of ["rsync", "hyperfine"]) {
  if (spawnSync(tool, ["--version"]).status !== 0) {
    console.error(`${tool} is missing: install it with  apt-get install -y rsync hyperfine`);
    process.exit(1);
  }
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
const children: ChildProcess[] = [];

try {
  const fscachePort = await freePort();
  const rsyncPort = await freePort();
  const serve = spawn(
    process.execPath,
    // A budget the runs never reach: rsync's copies are only moved aside during the runs,
    // and files created soon after many were deleted cost several times more on ext4.
    [
      cliMain,
      "serve",
      "-q",
      "--root",
      join(work, "cache"),
      "--max-size",
      "100GiB",
      "--listen",
      `127.0.0.1:${fscachePort}`,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(serve);
  await new Promise<void>((resolve) => serve.stdout?.once("data", () => resolve()));
  const rsyncRoot = join(work, "rsync");
  fs.mkdirSync(rsyncRoot);
  fs.writeFileSync(
    join(work, "rsyncd.conf"),
    `use chroot = false\nuid = 0\ngid = 0\npid file = ${join(work, "rsyncd.pid")}\n[bench]\npath = ${rsyncRoot}\nread only = false\n`,
  );
  const daemon = spawn(
    "rsync",
    ["--daemon", "--no-detach", `--config=${join(work, "rsyncd.conf")}`, `--port=${rsyncPort}`, "--address=127.0.0.1"],
    {
      stdio: "inherit",
    },
  );
  children.push(daemon);
  await new Promise((r) => setTimeout(r, 500));

  const trees: [string, number, (r: () => number) => number][] = [["small", 10_000, smallSize]];
  if (args.includes("--many")) trees.push(["many", 100_000, manySize]);
  for (const [name, files, sizeOf] of trees) {
    const src = join(work, `${name}-src`);
    const bytes = generate(src, files, sizeOf);
    console.error(`\n## ${name}: ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    const rsyncDest = join(rsyncRoot, name);
    const rsync = `rsync -a --delete ${src}/ rsync://127.0.0.1:${rsyncPort}/bench/${name}/`;
    const push = (sharedKey: string) =>
      `node ${cliMain} push ${src} --to 127.0.0.1:${fscachePort} --no-dockerignore -q --root ${join(work, "client")} --shared-key ${sharedKey}`;
    const runs = quick ? 2 : 5;
    const first = hyperfine(
      work,
      `${name}-first`,
      runs,
      [
        // `sync` first: no run pays for writing back the data of the runs before it
        ["rsync", rsync, `mv ${rsyncDest} ${trash}/$(date +%s%N) 2>/dev/null; sync`],
        // a shared key never seen before: the server starts from an empty snapshot
        ["fscache", push(`${name}-first-$(date +%s%N)`), "sync"],
      ],
      { interleave: true, warmup: 1 },
    );
    report(name, "first push", first);
    const noop = hyperfine(
      work,
      `${name}-noop`,
      quick ? 3 : 10,
      [
        ["rsync", rsync, "true"],
        ["fscache", push(`${name}-again`), "true"],
      ],
      { warmup: 1 },
    );
    report(name, "no-op push", noop);
    const touchCmd = `node ${join(here, "push.js")} --touch ${src} 0.01 $(date +%N)`;
    const onePercent = hyperfine(work, `${name}-1pct`, quick ? 3 : 10, [
      ["rsync", rsync, touchCmd],
      ["fscache", push(`${name}-again`), touchCmd],
    ]);
    report(name, "1% changed", onePercent);
    // the last timed run may have been fscache's, after a touch: bring rsync's copy up to date first
    execFileSync("sh", ["-c", rsync]);
    const diff = spawnSync("diff", ["-r", "--no-dereference", src, rsyncDest]);
    if (diff.status !== 0) throw new Error(`rsync's copy differs from the source:\n${diff.stdout}`);
    // and fscache's: one more push must leave the server a snapshot with the source's checksum
    const last = `${push(`${name}-again`)} --json`;
    const pushed = JSON.parse(execFileSync("sh", ["-c", last]).toString()).checksum;
    const local = execFileSync(process.execPath, [cliMain, "checksum", src]).toString().trim();
    if (pushed !== local) throw new Error(`fscache's pushed snapshot differs from the source: ${pushed}, not ${local}`);
  }
  console.log(`\n${startLine}`);
  console.log(settleLine);
  console.log("\n| tree | case | fscache push | rsync daemon | fscache / rsync |");
  console.log("|---|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(work, { recursive: true, force: true });
}

function report(tree: string, what: string, times: Map<string, Timing>): void {
  const ours = times.get("fscache") as Timing;
  const theirs = times.get("rsync") as Timing;
  rows.push([tree, what, fmt(ours), fmt(theirs), ratioCell(ours, theirs)]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
