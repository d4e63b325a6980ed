/**
 * Opening a disk cache with 10,000 sources, and GC over 10,000 idle sources.
 * Goals on a 2-core machine: open < 1 s, gc < 1 s. Peers timed in the same run:
 * `cat` of every record file (the raw cost of reading them), and the same records
 * opened from memory adapters (the core's own share of the work).
 *
 *   npm run bench:meta            # Node
 *   deno run -A bench/meta.ts     # Deno
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { encodeRecord } from "../backends/_meta_files.ts";
import { FSCache, MemoryBackend, MemoryMetaStore, type SourceRecord } from "../mod.ts";

const SOURCES = 10_000;
const RUNS = 3;
const T0 = 1_700_000_000_000;

function records(): SourceRecord[] {
  return Array.from({ length: SOURCES }, (_, i) => ({
    key: `registry.example/project-${i}:ctx-${"k".repeat(i % 50)}`,
    sharedKey: `project-${i % 100}`,
    backendId: i.toString(16).padStart(32, "0"),
    lastUsed: T0 + i * 1000,
    priority: 0,
    size: 1000 + (i % 7),
    stale: false,
  }));
}

/** A root as the store writes it, written directly (fsync per record would make setup minutes long). */
function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "fscache-bench-"));
  mkdirSync(join(root, "meta"), { mode: 0o700 });
  mkdirSync(join(root, "snapshots"), { mode: 0o700 });
  records().forEach((record, i) => {
    writeFileSync(join(root, "meta", `${record.backendId}.rec`), encodeRecord({ seq: i + 1, record }));
    mkdirSync(join(root, "snapshots", record.backendId), { mode: 0o700 });
    writeFileSync(join(root, "snapshots", record.backendId, "file"), "x".repeat(record.size as number));
  });
  return root;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Roots are deleted after all runs: deleting many files slows creating them for ~30 s on this ext4. */
const used: string[] = [];

const row = (name: string, times: number[], ref?: number) =>
  console.log(
    `${name.padEnd(46)} ${median(times).toFixed(0).padStart(6)} ms  (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)})${ref ? `  ${(median(times) / ref).toFixed(2)}×` : ""}`,
  );

// Child mode: open a root in a fresh process and report its RSS before and after.
if (process.argv[2] === "--rss-of-open") {
  const before = process.memoryUsage().rss;
  const cache = await FSCache.open({ root: process.argv[3]!, gcInterval: 0 });
  const after = process.memoryUsage().rss;
  await cache.close();
  console.log(JSON.stringify({ before, after }));
  process.exit(0);
}

/** RSS of a fresh process (same runtime) before and after opening `root`, in MiB. */
function rssOfOpen(root: string): { before: number; after: number } {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const script = new URL(import.meta.url).pathname;
  const [command, args] = deno ? [deno.execPath(), ["run", "-A", script]] : [process.execPath, [script]];
  const out = execFileSync(command, [...args, "--rss-of-open", root], { encoding: "utf8" });
  const { before, after } = JSON.parse(out.trim().split("\n").pop()!);
  return { before: before / 2 ** 20, after: after / 2 ** 20 };
}

console.log(`${SOURCES} sources, ${RUNS} runs each, medians; ratios against the cat peer\n`);
const open: number[] = [];
const cat: number[] = [];
const memory: number[] = [];
const gcIdle: number[] = [];
const gcUnknown: number[] = [];
const gcDelete: number[] = [];
const rss: { before: number; after: number }[] = [];
const persistSizes: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const root = makeRoot();
  // Peer: read every record file with cat (one process; the floor of reading them at all).
  cat.push(await time(() => execFileSync("sh", ["-c", `cat ${join(root, "meta")}/*.rec > /dev/null`])));

  // Peer: the same records from memory adapters (the core's share: sources, dirs, orphan check).
  const metaStore = new MemoryMetaStore();
  const backend = new MemoryBackend();
  for (const r of records()) await metaStore.put(r);
  for (const r of records()) backend.volume.mkdirSync(`/snapshots/${r.backendId}`, { recursive: true });
  memory.push(await time(() => FSCache.open({ backend, metaStore, gcInterval: 0 }).then((c) => c.close())));

  let cache: FSCache | undefined;
  open.push(
    await time(async () => {
      cache = await FSCache.open({ root, gcInterval: 0, clock: () => T0 + SOURCES * 1000 });
    }),
  );
  gcIdle.push(await time(() => cache!.gc()));
  await cache!.close();
  rss.push(rssOfOpen(root));

  // Sizes unknown (as after syncs nobody measured): GC walks every snapshot first.
  rmSync(join(root, "meta"), { recursive: true });
  mkdirSync(join(root, "meta"), { mode: 0o700 });
  records().forEach((record, i) => {
    writeFileSync(
      join(root, "meta", `${record.backendId}.rec`),
      encodeRecord({ seq: i + 1, record: { ...record, size: null } }),
    );
  });
  const walking = await FSCache.open({ root, gcInterval: 0, clock: () => T0 + SOURCES * 1000 });
  gcUnknown.push(await time(() => walking.gc()));
  // The sizes GC measured are written back in the background; close() waits for all 10,000.
  persistSizes.push(await time(() => walking.close()));

  // GC that deletes the oldest 10%: a budget 10% below the idle total.
  const total = records().reduce((sum, r) => sum + (r.size as number), 0);
  const deleting = await FSCache.open({
    root,
    gcInterval: 0,
    clock: () => T0 + SOURCES * 1000,
    gcPolicy: { maxSize: Math.floor(total * 0.9) },
  });
  gcDelete.push(await time(() => deleting.gc()));
  await deleting.close();
  used.push(root);
}
for (const root of used) rmSync(root, { recursive: true, force: true });

const ref = median(cat);
row("peer: cat every record file", cat);
row("peer: open from memory adapters", memory, ref);
row("FSCache.open({ root })  (goal < 1000 ms)", open, ref);
row("gc(), 10,000 idle, sizes recorded  (goal < 1000)", gcIdle, ref);
row("gc(), 10,000 idle, sizes unknown (walks each)", gcUnknown, ref);
row("  then close(): 10,000 size records written", persistSizes, ref);
row("gc() deleting the oldest 10%", gcDelete, ref);
const growth = rss.map((r) => r.after - r.before);
console.log(
  `\nRSS of a fresh process: ${median(rss.map((r) => r.before)).toFixed(0)} MiB before open, ` +
    `${median(rss.map((r) => r.after)).toFixed(0)} MiB after (+${median(growth).toFixed(1)} MiB for ${SOURCES} sources)`,
);
