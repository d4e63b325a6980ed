/**
 * Crash safety with real kills: a child process hammers a disk cache and is SIGKILLed
 * at random moments (fixed seed); after each kill the cache is reopened and checked.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { deserializeHashTree } from "../core/hash_tree_codec.ts";
import { isValidRecord } from "../core/record.ts";
import { inlineScanner } from "../core/tree_scan.ts";
import { DiskBackend, FileMetaStore, FSCache, nodeSha256 } from "../mod.ts";
import { childResult, spawnFixture, waitForLine } from "./_child.ts";
import { recordingLogger, seededRandom, sleep } from "./_helpers.ts";

const KILLS = 50;

/** Reopens the root after a kill and checks every invariant; returns what it saw. */
async function verify(root: string): Promise<{ records: number; stale: number }> {
  const logger = recordingLogger();
  const metaStore = new FileMetaStore(root, { logger });
  const backend = new DiskBackend(root);
  const cache = await FSCache.open({ backend, metaStore, logger, gcInterval: 0 });
  cache.registerTransport("crash", {
    async copy({ id, dest, fs }) {
      await fs.writeFile(`${dest}/done.${id.key}`, id.key);
    },
  });
  try {
    // Nothing half-written was found and no record pointed at a missing directory; the only
    // repair allowed is removing directories a kill left without a record (created, or half-deleted).
    assert.deepEqual(
      logger.messages.filter((m) => !m.startsWith("removing orphaned snapshot directory")),
      [],
    );
    assert.equal(existsSync(join(root, "meta", "quarantine")), false);
    const records = await metaStore.loadAll();
    assert.equal(new Set(records.map((r) => r.key)).size, records.length, "one record per key");
    assert.equal(new Set(records.map((r) => r.backendId)).size, records.length, "one record per snapshot");
    let stale = 0;
    for (const r of records) {
      assert.ok(isValidRecord(r), JSON.stringify(r));
      const dir = join(root, "snapshots", r.backendId);
      assert.ok(existsSync(dir), `directory of ${r.key} exists`);
      if (r.stale) {
        stale++;
        continue;
      }
      assert.equal(readFileSync(join(dir, `done.${r.key}`), "utf8"), r.key, `${r.key} is complete`);
      // The stored hash tree describes exactly this snapshot: it moved with it on rebase and
      // was written before the record stopped being stale.
      const stored = await metaStore.getHashTree(r.key);
      assert.ok(stored, `${r.key} has its hash tree`);
      const scanned = await inlineScanner.scan(backend.fs, dir, nodeSha256);
      const entries = (tree: ReturnType<typeof deserializeHashTree>) =>
        [...tree.entries()].map(([path, e]) => `${path} ${e.checksum}`);
      assert.deepEqual(entries(deserializeHashTree(stored, nodeSha256)), entries(scanned), `tree of ${r.key}`);
    }
    // A stale snapshot is repaired by the next sync of its key.
    for (const r of records.filter((r) => r.stale)) {
      await (await cache.syncFrom({ key: r.key, transport: "crash" })).close();
      assert.equal((await metaStore.loadAll()).find((x) => x.key === r.key)?.stale, false);
    }
    await cache.gc();
    await cache.flush();
    const owned = (await metaStore.loadAll()).map((r) => r.backendId).sort();
    assert.deepEqual(readdirSync(join(root, "snapshots")).sort(), owned, "no orphaned snapshot directory");
    assert.deepEqual(
      readdirSync(join(root, "meta")).filter((n) => n.startsWith(".")),
      [],
      "no temp files",
    );
    return { records: records.length, stale };
  } finally {
    await cache.close();
  }
}

describe("crash safety under SIGKILL", () => {
  it(`after ${KILLS} kills at random moments, records are whole, keys have their directories, GC leaves no orphan`, {
    timeout: 180_000,
  }, async () => {
    const root = mkdtempSync(join(tmpdir(), "fscache-"));
    const random = seededRandom(0x5eed);
    let recordsSeen = 0;
    let staleSeen = 0;
    let duringOpen = 0;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const child = spawnFixture("crash_worker", [root, String(kill + 1)]);
        const result = childResult(child);
        let ready = false;
        const readyLine = waitForLine(child, "ready").then((seen) => {
          ready = seen;
          return seen;
        });
        // One kill in five lands at any moment from spawn (also while opening); the rest while hammering.
        if (random() < 0.2) await sleep(random() * 400);
        else if (!(await readyLine)) assert.fail(`child exited early: ${(await result).stderr}`);
        else await sleep(random() * 150);
        child.kill("SIGKILL");
        const { signal, stderr } = await result;
        assert.equal(signal, "SIGKILL", `the child died by itself: ${stderr}`);
        if (!ready) duringOpen++;
        const seen = await verify(root);
        recordsSeen += seen.records;
        staleSeen += seen.stale;
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    // The kills must have hit a busy cache, not an empty one.
    assert.ok(recordsSeen > KILLS, `records seen: ${recordsSeen}`);
    console.log(
      `crash test: ${KILLS} kills (${duringOpen} before the cache was open), ${recordsSeen} records checked, ${staleSeen} stale repaired`,
    );
  });
});
