/**
 * The soak: one `fscache serve` process with a small GC budget, N client processes
 * (`fscache push`) pushing at once, round after round of seeded edits, some of them
 * switching to a new shared key (a branch), so snapshots keep being created and GC keeps
 * collecting. Every push's checksum must equal `fscache checksum` of its source; at the end
 * every client's last snapshot must equal its source byte for byte. The server's RSS and
 * open file descriptors (from /proc) are sampled throughout.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as nodeFs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childResult } from "../_child.ts";
import { cli } from "../_cli.ts";
import { seededRandom } from "../_helpers.ts";
import { cliCommand, listeningPort } from "../_processes.ts";
import { assertSnapshotOf, editTree, makeSource, mismatch } from "./_workload.ts";

/** The soak's size. */
export interface SoakOptions {
  seed: number;
  clients: number;
  rounds: number;
  /** Files per client tree at the start (default 12, each up to 40 kB). */
  files?: number;
  log?: (line: string) => void;
}

/** What the soak measured and found. */
export interface SoakReport {
  clients: number;
  rounds: number;
  pushes: number;
  /** The serve's --max-size, in bytes. */
  gcBudget: number;
  /** Server VmRSS in KiB. */
  rss: { start: number; peak: number; end: number };
  /** Server open file descriptors: once listening, after the first round, at the end (sessions closed). */
  fds: { start: number; afterFirstRound: number; end: number };
  /** Snapshot directories seen during the run, and left at the end (the rest GC collected). */
  snapshotsSeen: number;
  snapshotsEnd: number;
  /** Last snapshots compared byte for byte and by checksum with their source. */
  verified: number;
  /** Pushes or commands that failed, last snapshots GC took: each a description. */
  failures: string[];
  /** Snapshots or checksums that differ from their source. */
  dataLost: string[];
  durationMs: number;
}

const MAX_FILE = 40_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnCliProcess(args: string[]): ChildProcess {
  const [command, prefix] = cliCommand();
  return spawn(command, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

/** VmRSS of a process in KiB, from /proc. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) : 0;
}

const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(path);
    else if (entry.isFile()) total += nodeFs.statSync(path).size;
  }
  return total;
}

async function checksumOf(dir: string): Promise<string> {
  return JSON.parse((await cli(["checksum", dir, "--json"])).stdout).checksum;
}

/**
 * Runs the soak and reports; throws only if the server cannot start.
 *
 * @example
 * ```ts
 * const report = await runSoak({ seed: 1, clients: 16, rounds: 30 });
 * console.log(report.rss, report.fds, report.dataLost.length);
 * ```
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  const random = seededRandom(options.seed);
  const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
  const root = join(tmp, "cache");
  const dirs = Array.from({ length: options.clients }, (_, i) => join(tmp, `client${i}`));
  const files = options.files ?? 12;
  for (const [i, dir] of dirs.entries()) makeSource(dir, options.seed * 1000 + i, { files, maxSize: MAX_FILE });
  // Twice what the clients hold at the start: their last snapshots fit, the branches they
  // leave behind do not, so GC collects after most sessions.
  const gcBudget = 2 * dirs.reduce((n, dir) => n + treeBytes(dir), 0);
  const report: SoakReport = {
    clients: options.clients,
    rounds: options.rounds,
    pushes: 0,
    gcBudget,
    rss: { start: 0, peak: 0, end: 0 },
    fds: { start: 0, afterFirstRound: 0, end: 0 },
    snapshotsSeen: 0,
    snapshotsEnd: 0,
    verified: 0,
    failures: [],
    dataLost: [],
    durationMs: 0,
  };
  const fail = (what: string) => {
    report.failures.push(what);
    options.log?.(`FAILED: ${what}`);
  };
  const serve = spawnCliProcess(["serve", "--root", root, "--listen", "127.0.0.1:0", "--max-size", `${gcBudget}`]);
  const served = childResult(serve);
  const seen = new Set<string>();
  let sampling = true;
  let sampler: Promise<void> | undefined;
  try {
    const port = await listeningPort(serve);
    const pid = serve.pid as number;
    report.rss.start = rssOf(pid);
    report.fds.start = fdsOf(pid);
    sampler = (async () => {
      while (sampling) {
        try {
          report.rss.peak = Math.max(report.rss.peak, rssOf(pid));
          for (const id of readdirSync(join(root, "snapshots"))) seen.add(id);
        } catch {
          // the server is gone: the exit check reports it
        }
        await sleep(100);
      }
    })();
    const branch = dirs.map(() => 0);
    const last: { key: string; dir: string }[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const roundStarted = performance.now();
      const expected: string[] = [];
      for (const [i, dir] of dirs.entries()) {
        editTree(dir, random, Math.floor(random() * 6), { minFiles: 4, maxFiles: 2 * files, maxSize: MAX_FILE });
        if (random() < 0.25) branch[i] = (branch[i] as number) + 1;
        expected.push(await checksumOf(dir));
      }
      const pushes = dirs.map((dir, i) => {
        // the clients' own root (their listings), never the home directory's
        const client = ["--root", join(tmp, "push-root")];
        const args = [
          "push",
          dir,
          "--to",
          `127.0.0.1:${port}`,
          ...client,
          "--json",
          "--shared-key",
          `c${i}-b${branch[i]}`,
        ];
        return childResult(spawnCliProcess(args));
      });
      for (const [i, result] of (await Promise.all(pushes)).entries()) {
        report.pushes++;
        if (result.code !== 0) {
          fail(`round ${round}, client ${i}: push exited ${result.code}: ${result.stderr.trim()}`);
          continue;
        }
        const pushed = JSON.parse(result.stdout);
        if (pushed.checksum !== expected[i]) {
          report.dataLost.push(`round ${round}, client ${i}: pushed ${pushed.checksum}, source is ${expected[i]}`);
        }
        last[i] = { key: pushed.key, dir: dirs[i] as string };
      }
      await sleep(200); // the server closes a session just after its client sees the result
      if (round === 1) report.fds.afterFirstRound = fdsOf(pid);
      options.log?.(
        `round ${round}: ${dirs.length} pushes in ${((performance.now() - roundStarted) / 1000).toFixed(1)} s, ` +
          `server RSS ${(rssOf(pid) / 1024).toFixed(0)} MiB, ${fdsOf(pid)} fds, ` +
          `${readdirSync(join(root, "snapshots")).length} snapshots`,
      );
    }
    await sleep(500);
    report.rss.end = rssOf(pid);
    report.fds.end = fdsOf(pid);
    report.rss.peak = Math.max(report.rss.peak, report.rss.end);
    sampling = false;
    await sampler;
    serve.kill("SIGTERM");
    const exit = await served;
    if (!/stopped\n$/.test(exit.stderr)) fail(`serve did not stop cleanly: ${exit.stderr.slice(-500)}`);
    const listed: { key: string; path: string; stale: boolean }[] = JSON.parse(
      (await cli(["ls", "--root", root, "--json"])).stdout,
    );
    report.snapshotsEnd = listed.length;
    report.snapshotsSeen = seen.size;
    for (const [i, { key, dir }] of last.entries()) {
      const source = listed.find((s) => s.key === key);
      if (!source) {
        fail(`client ${i}: last snapshot ${key} was collected (GC budget too small for the test)`);
        continue;
      }
      try {
        if (source.stale) throw new Error("listed stale");
        assertSnapshotOf(dir, source.path);
        const [want, got] = [await checksumOf(dir), await checksumOf(source.path)];
        if (want !== got) throw new Error(`snapshot scans to ${got}, source to ${want}`);
        report.verified++;
      } catch (err) {
        report.dataLost.push(`client ${i}, ${key}: ${mismatch(err)}`);
      }
    }
  } finally {
    sampling = false;
    await sampler;
    serve.kill("SIGKILL");
    await served;
    rmSync(tmp, { recursive: true, force: true });
  }
  report.durationMs = performance.now() - started;
  return report;
}
