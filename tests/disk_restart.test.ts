/** Restarts on disk (SPEC §3.3): after a clean close and after a SIGKILL, the cache carries on where it was. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DiskBackend, FileMetaStore, type GCPolicy } from "../mod.ts";
import { childResult, spawnFixture, waitForLine } from "./_child.ts";
import { deferred, openTestCache } from "./_helpers.ts";
import { populate, T0, TREE_OF_A } from "./_restart.ts";

const restarts: { name: string; populate(root: string): Promise<void> }[] = [
  {
    name: "a clean close",
    async populate(root) {
      await (await populate(root)).close();
    },
  },
  {
    name: "a kill",
    async populate(root) {
      const child = spawnFixture("populate_and_hold", [root]);
      const result = childResult(child);
      const populated = await waitForLine(child, "populated");
      child.kill("SIGKILL");
      const { signal, stderr } = await result;
      assert.ok(populated && signal === "SIGKILL", stderr);
      assert.ok(existsSync(join(root, "lock")), "the killed process left its lock behind");
    },
  },
];

async function reopen(root: string, gcPolicy: Partial<GCPolicy> = {}) {
  const metaStore = new FileMetaStore(root);
  const opened = await openTestCache({ backend: new DiskBackend(root), metaStore, clock: () => T0 + 10_000, gcPolicy });
  return { ...opened, metaStore };
}

async function withPopulatedRoot(populateRoot: (root: string) => Promise<void>, body: (root: string) => Promise<void>) {
  const root = mkdtempSync(join(tmpdir(), "fscache-"));
  try {
    await populateRoot(root);
    await body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

for (const restart of restarts) {
  describe(`restart on disk after ${restart.name}`, () => {
    it("every source is back, idle, with its size; the same key is reused with no transfer", () =>
      withPopulatedRoot(restart.populate, async (root) => {
        const { cache, transport } = await reopen(root);
        assert.deepEqual((await cache.sources()).map((s) => [s.key, s.size, s.refs, s.stale]).sort(), [
          ["a", 4, 0, false],
          ["b", 8, 0, false],
          ["c", 2, 0, false],
        ]);
        const src = await cache.syncFrom({ key: "b", transport: "test", data: "other" });
        assert.equal(transport.calls, 0);
        assert.equal(await src.fs.readFile(`${src.root}/b`, "utf8"), "bbbbbbbb");
        await src.close();
        assert.equal((await cache.sources()).find((s) => s.key === "b")?.refs, 0);
        await cache.close();
      }));

    it("a rebase after the restart takes the snapshot over with its stored hash tree", () =>
      withPopulatedRoot(restart.populate, async (root) => {
        const { cache, transport, metaStore } = await reopen(root);
        const before = (await cache.sources()).find((s) => s.key === "a")!;
        // Hold the transfer open: the tree must already be under the new key when the transport runs.
        const gate = deferred();
        transport.gate = gate.promise;
        const syncing = cache.syncFrom({ key: "a2", sharedKey: "s", transport: "test", data: "x" });
        while (transport.calls === 0) await new Promise((r) => setTimeout(r, 1));
        assert.deepEqual(await metaStore.getHashTree("a2"), TREE_OF_A);
        assert.equal(await metaStore.getHashTree("a"), undefined);
        gate.resolve();
        const src = await syncing;
        assert.equal(src.root, before.path);
        assert.equal(await src.fs.readFile(`${src.root}/a`, "utf8"), "aaaa");
        await src.close();
        await cache.close();
        const after = await reopen(root);
        assert.deepEqual((await after.cache.sources()).map((s) => s.key).sort(), ["a2", "b", "c"]);
        await after.cache.close();
      }));

    it("GC keeps respecting maxSize with the sizes recorded before the restart", () =>
      withPopulatedRoot(restart.populate, async (root) => {
        const { cache } = await reopen(root, { maxSize: 10 });
        const a = (await cache.sources()).find((s) => s.key === "a")!;
        assert.deepEqual(await cache.gc(), { removed: ["a"], freed: 4 });
        assert.equal(await cache.diskUsage(), 10);
        assert.equal(existsSync(a.path), false);
        await cache.close();
        const after = await reopen(root, { maxSize: 10 });
        assert.deepEqual((await after.cache.sources()).map((s) => s.key).sort(), ["b", "c"]);
        await after.cache.close();
      }));
  });
}
