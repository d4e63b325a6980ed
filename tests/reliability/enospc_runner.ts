/**
 * A disk that really fills: the cache root is a small tmpfs (root only) and a sync, then a
 * push, needs more than is left. Checked: the command fails with `ENOSPC` naming the key,
 * the snapshots already there still equal their sources, the failed one is listed stale
 * (never complete), `fscache prune` (sync) or serve's `--max-size` GC (push) frees the space,
 * and the next attempt succeeds with a snapshot equal to its source.
 * @module
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { cli } from "../_cli.ts";
import { seededRandom } from "../_helpers.ts";
import { listeningPort, spawnCli } from "../_processes.ts";
import { assertSnapshotOf, mismatch } from "./_workload.ts";

const MiB = 1024 * 1024;
const TMPFS_SIZE = "16m";

/**
 * Why a tmpfs cannot be mounted here, or undefined when it can (probed with a real mount).
 *
 * @example
 * ```ts
 * const reason = cannotMount(); // "not root: mounting a tmpfs needs root"
 * ```
 */
export function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: mounting a tmpfs needs root";
  const dir = mkdtempSync(join(tmpdir(), "fscache-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What happened, for the results table. */
export interface EnospcReport {
  /** The error lines the failing sync and push printed. */
  syncError: string;
  pushError: string;
  /** Snapshots compared with their source afterwards. */
  verified: number;
  /** Bytes `fscache prune` freed. */
  freed: number;
  /** Snapshots that differ from their source, or a failed one listed as complete. */
  dataLost: string[];
}

function writeSource(dir: string, files: number, seed: number): void {
  const random = seededRandom(seed);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < files; i++) {
    const bytes = new Uint8Array(256 * 1024);
    for (let j = 0; j < bytes.length; j += 64) bytes[j] = Math.floor(random() * 256);
    writeFileSync(`${dir}/f${i}`, bytes);
  }
}

interface Listed {
  key: string;
  sharedKey: string;
  path: string;
  stale: boolean;
}

async function ls(root: string): Promise<Listed[]> {
  const r = await cli(["ls", "--root", root, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/**
 * Runs both scenarios on a fresh 16 MiB tmpfs (mounted and unmounted here).
 *
 * @example
 * ```ts
 * if (!cannotMount()) assert.deepEqual((await runEnospc()).dataLost, []);
 * ```
 */
export async function runEnospc(): Promise<EnospcReport> {
  const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
  const root = join(tmp, "cache");
  mkdirSync(root);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", root], { stdio: "pipe" });
  const report: EnospcReport = { syncError: "", pushError: "", verified: 0, freed: 0, dataLost: [] };
  const verify = async (what: string, path: string, dir: string) => {
    try {
      assertSnapshotOf(dir, path);
      const want = JSON.parse((await cli(["checksum", dir, "--json"])).stdout).checksum;
      const got = JSON.parse((await cli(["checksum", path, "--json"])).stdout).checksum;
      assert.equal(got, want, "checksum");
      report.verified++;
    } catch (err) {
      report.dataLost.push(`${what}: ${mismatch(err)}`);
    }
  };
  try {
    const [a, b, big] = [join(tmp, "a"), join(tmp, "b"), join(tmp, "big")];
    writeSource(a, 16, 1); // 4 MiB
    writeSource(b, 8, 2); // 2 MiB
    writeSource(big, 48, 3); // 12 MiB: more than is left once a and b are in
    for (const dir of [a, b]) {
      const r = await cli(["sync", dir, "--root", root, "--json"]);
      assert.equal(r.code, 0, r.stderr);
    }
    const failed = await cli(["sync", big, "--root", root, "--json"]);
    assert.equal(failed.code, 1, failed.stderr);
    report.syncError = failed.stderr.trim().split("\n").at(-1) as string;
    assert.match(report.syncError, /^fscache sync: ENOSPC: .*key "sync-[0-9a-f-]+"/);
    // What was there still verifies; the failed snapshot is there only as stale.
    let listed = await ls(root);
    for (const s of listed) {
      if (s.sharedKey === `local:${big}` && !s.stale) report.dataLost.push(`failed sync listed complete: ${s.key}`);
    }
    for (const dir of [a, b]) {
      const s = listed.find((x) => x.sharedKey === `local:${dir}`);
      if (!s || s.stale) report.dataLost.push(`${dir} lost after ENOSPC`);
      else await verify(`${dir} after ENOSPC`, s.path, dir);
    }
    const again = await cli(["sync", big, "--root", root, "--json"]);
    assert.equal(again.code, 1, "still full: the retry fails the same way");
    assert.match(again.stderr, /ENOSPC/);
    const pruned = await cli(["prune", "--root", root, "--json"]);
    assert.equal(pruned.code, 0, pruned.stderr);
    report.freed = JSON.parse(pruned.stdout).freed;
    assert.ok(report.freed >= 6 * MiB, `prune freed ${report.freed}`);
    const ok = await cli(["sync", big, "--root", root, "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    await verify("sync after prune", JSON.parse(ok.stdout).path, big);
    assert.equal((await cli(["prune", "--root", root, "-q"])).code, 0);

    // The push path: a server on the full disk, with a GC budget that reclaims a failed push.
    const serve = spawnCli(["serve", "--root", root, "--listen", "127.0.0.1:0", "--max-size", "13MiB"]);
    try {
      const port = await listeningPort(serve.child);
      const push = (dir: string) => cli(["push", dir, "--to", `127.0.0.1:${port}`, "--json"]);
      const first = await push(a);
      assert.equal(first.code, 0, first.stderr);
      const full = await push(big);
      assert.equal(full.code, 1, full.stdout);
      report.pushError = full.stderr.trim().split("\n").at(-1) as string;
      assert.match(report.pushError, /ENOSPC/);
      // GC after the failed session (4 + ~12 MiB idle > 13 MiB) collects the oldest, a's snapshot.
      for (let i = 0; readdirSync(join(root, "snapshots")).length > 1; i++) {
        assert.ok(i < 100, "GC did not collect after the failed push");
        await new Promise((r) => setTimeout(r, 100));
      }
      const retry = await push(big);
      assert.equal(retry.code, 0, retry.stderr);
      const key = JSON.parse(retry.stdout).key;
      serve.child.kill("SIGTERM");
      await serve.exit;
      listed = await ls(root);
      const s = listed.find((x) => x.key === key);
      if (!s || s.stale) report.dataLost.push(`pushed ${key} is ${s ? "stale" : "gone"}`);
      else await verify("push after GC", s.path, big);
    } finally {
      serve.child.kill("SIGKILL");
    }
    return report;
  } finally {
    try {
      execFileSync("umount", [root], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["-l", root], { stdio: "pipe" });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}
