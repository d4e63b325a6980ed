/**
 * Benchmark: `fscache checksum` (the built CLI) against `find | xargs openssl dgst
 * -sha256` (the physical-limit tool) and `find | xargs sha256sum`, on generated trees,
 * in the same run. Prints medians (with min–max) and ratios to openssl, of wall time
 * and of CPU time (user + system, the command's whole process tree): on a shared
 * machine the CPU time is the steadier of the two.
 *
 *   npm run build && npm run bench:checksum [-- --runs 7] [--compare other/dist/cli/bin.cjs] [--keep-env]
 *
 * `--compare` times another build of the CLI too (say, main's), in the same run.
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { timingOf } from "./_hyperfine.ts";
import { nodeStartEnvironment } from "./_node_start.ts";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg === -1 ? 7 : Number(process.argv[runsArg + 1]);
const compareArg = process.argv.indexOf("--compare");
const comparePath = compareArg === -1 ? undefined : (process.argv[compareArg + 1] as string);
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "").replace(/\/\.test-build$/, "");
const cliPath = join(root, "dist/cli/bin.cjs");
if (!fs.existsSync(cliPath)) throw new Error("run `npm run build` first");

/** Deterministic pseudo-random bytes, so every run hashes the same trees. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(dir: string, files: number, size: () => number): number {
  const random = rng(files);
  const block = new Uint8Array(1 << 20).map(() => Math.floor(random() * 256));
  let total = 0;
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${i % 100}`, `s${Math.floor(i / 100) % 10}`);
    if (i < 1000) fs.mkdirSync(sub, { recursive: true });
    const n = size();
    const offset = Math.floor(random() * (block.length - n));
    fs.writeFileSync(join(sub, `f${i}.txt`), block.subarray(offset, offset + n));
    total += n;
  }
  return total;
}

/** CPU seconds (user + system) of this process's waited-for children so far (Linux). */
function childCpu(): number {
  const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  // cutime and cstime are fields 16 and 17 of stat(5); this list starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function time(cmd: string[]): { wall: number; cpu: number } {
  const cpu = childCpu();
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed`);
  return { wall: Number(process.hrtime.bigint() - start) / 1e9, cpu: childCpu() - cpu };
}

const startLine = nodeStartEnvironment();
console.error(startLine);
const work = fs.mkdtempSync(join(tmpdir(), "fscache-bench-"));
try {
  const random = rng(42);
  const trees: [string, string, number][] = [];
  // "small": 10k files, sizes skewed like source code, ~150 MB in all.
  const small = join(work, "small");
  const smallBytes = generate(small, 10_000, () => Math.floor(random() ** 3 * 60_000));
  trees.push(["small", small, smallBytes]);
  // "many": 100k tiny files (100 B – 2 KiB).
  const many = join(work, "many");
  const manyBytes = generate(many, 100_000, () => 100 + Math.floor(random() * 1948));
  trees.push(["many", many, manyBytes]);
  execFileSync("sync");

  const rows: string[] = [];
  for (const [name, dir, bytes] of trees) {
    const commands: [string, string[]][] = [
      ["fscache checksum", [process.execPath, cliPath, "checksum", dir]],
      ...(comparePath === undefined
        ? []
        : [
            ["fscache checksum (--compare build)", [process.execPath, comparePath, "checksum", dir]] as [
              string,
              string[],
            ],
          ]),
      [
        "find | xargs openssl dgst -sha256",
        ["sh", "-c", `find ${dir} -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null`],
      ],
      ["find | xargs sha256sum", ["sh", "-c", `find ${dir} -type f -print0 | xargs -0 sha256sum >/dev/null`]],
    ];
    const samples = new Map<string, { wall: number; cpu: number }[]>(commands.map(([label]) => [label, []]));
    for (const [, cmd] of commands) time(cmd); // warm the page cache and the binaries
    // Interleave the peers, so drift on a shared machine hits them all alike.
    for (let r = 0; r < RUNS; r++) for (const [label, cmd] of commands) samples.get(label)?.push(time(cmd));
    const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0] as string;
    const of = (label: string) => samples.get(label) as { wall: number; cpu: number }[];
    const openssl = of("find | xargs openssl dgst -sha256");
    const opensslWall = timingOf(openssl.map((x) => x.wall)).median;
    const opensslCpu = timingOf(openssl.map((x) => x.cpu)).median;
    for (const [label] of commands) {
      const s = timingOf(of(label).map((x) => x.wall));
      const cpu = timingOf(of(label).map((x) => x.cpu)).median;
      rows.push(
        `| ${name} (${(bytes / 1048576).toFixed(0)} MiB) | ${label.replaceAll("|", "\\|")} | ${s.median.toFixed(3)} s | ${s.min.toFixed(3)}–${s.max.toFixed(3)} s | ${(s.median / opensslWall).toFixed(2)}× | ${cpu.toFixed(2)} s | ${(cpu / opensslCpu).toFixed(2)}× | ${load} |`,
      );
    }
  }
  console.log(`runs per command: ${RUNS} (medians), node ${process.version}`);
  console.log(startLine);
  console.log("| tree | command | median | min–max | vs openssl | CPU | CPU vs openssl | load avg |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
