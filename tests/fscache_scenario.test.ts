/** SPEC §3.4: the seed's own acceptance scenario, step by step. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adapterKinds, withHarness } from "./_adapters.ts";
import { openTestCache } from "./_helpers.ts";

for (const kind of adapterKinds) {
  describe(`acceptance scenario (SPEC §3.4), ${kind.name} adapters`, () => {
    it("reuses, rebases, collects and prunes exactly as the seed's test expects", () =>
      withHarness(kind, async (h) => {
        const { cache, transport } = await openTestCache({
          ...h.adapters(),
          gcPolicy: { maxSize: 15, maxKeepDuration: 60 * 60 * 1000 },
        });

        // 1. a new key is transferred
        const src1 = await cache.syncFrom({ key: "foo", sharedKey: "bar", transport: "test", data: "data" });
        assert.equal(await src1.fs.readFile(`${src1.root}/foo`, "utf8"), "data");

        // 2. the same key again: same directory, no transfer
        const src2 = await cache.syncFrom({ key: "foo", sharedKey: "bar", transport: "test", data: "data2" });
        assert.equal(src2.root, src1.root);
        assert.equal(await src2.fs.readFile(`${src2.root}/foo`, "utf8"), "data");
        assert.equal(transport.calls, 1);
        await src2.close();

        // 3. a new key with the same shared key while foo is held: a new directory
        const src3 = await cache.syncFrom({ key: "foo2", sharedKey: "bar", transport: "test", data: "data2" });
        assert.notEqual(src3.root, src1.root);

        // 4. nothing idle yet; releasing foo2 makes its 5 bytes reclaimable
        assert.equal(await cache.diskUsage(), 0);
        await src3.close();
        await cache.flush();
        assert.equal(await cache.diskUsage(), 5);

        // 5. foo3 rebases the idle foo2 snapshot: same directory, holds foo2 and foo3
        const src4 = await cache.syncFrom({ key: "foo3", sharedKey: "bar", transport: "test", data: "data3" });
        assert.equal(src4.root, src3.root);
        assert.equal(await src4.fs.readFile(`${src4.root}/foo2`, "utf8"), "data2");
        assert.equal(await src4.fs.readFile(`${src4.root}/foo3`, "utf8"), "data3");
        await src4.close();
        await cache.flush();
        assert.equal(await cache.diskUsage(), 10);

        // 6. foo4 is new; on release the background GC finds 18 > 15 and drops the LRU (foo3's)
        const src5 = await cache.syncFrom({ key: "foo4", sharedKey: "baz", transport: "test", data: "datadata" });
        assert.notEqual(src5.root, src4.root);
        await src5.close();
        await cache.flush();
        assert.equal(await cache.diskUsage(), 8);
        assert.deepEqual((await cache.sources()).map((s) => s.key).sort(), ["foo", "foo4"]);

        // 7. prune frees the idle 8 bytes; foo is still held by step 1 and survives
        assert.equal(await cache.prune(), 8);
        assert.equal(await cache.diskUsage(), 0);
        assert.equal(await src1.fs.readFile(`${src1.root}/foo`, "utf8"), "data");
        await src1.close();
        await cache.close();
      }));
  });
}
