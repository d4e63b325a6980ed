/** SPEC §6: every place we deliberately differ from the seed, each shown failing the seed's way. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError, type SourceRecord } from "../mod.ts";
import { adapterKinds, withHarness } from "./_adapters.ts";
import { deferred, manualClock, openTestCache, recordingLogger } from "./_helpers.ts";

for (const kind of adapterKinds) {
  describe(`deliberate differences from the seed (SPEC §6), ${kind.name} adapters`, () => {
    it("each concurrent caller gets its own reference: the first close does not free the snapshot", () =>
      withHarness(kind, async (h) => {
        const { cache } = await openTestCache(h.adapters());
        const [a, b] = await Promise.all([
          cache.syncFrom({ key: "k", transport: "test", data: "x" }),
          cache.syncFrom({ key: "k", transport: "test", data: "x" }),
        ]);
        assert.equal((await cache.sources())[0]?.refs, 2);
        await a.close();
        assert.equal(await cache.prune(), 0, "b still holds the snapshot");
        assert.equal(await b.fs.readFile(`${b.root}/k`, "utf8"), "x");
        await b.close();
        assert.equal(await cache.prune(), 1);
        await cache.close();
      }));

    it("a key loaded after a restart is reused with no transfer, and its reference is released", () =>
      withHarness(kind, async (h) => {
        const first = await openTestCache(h.adapters());
        await (await first.cache.syncFrom({ key: "k", transport: "test", data: "x" })).close();
        await first.cache.close();

        const second = await openTestCache(h.adapters());
        const src = await second.cache.syncFrom({ key: "k", transport: "test", data: "other" });
        assert.equal(second.transport.calls, 0);
        assert.equal(await src.fs.readFile(`${src.root}/k`, "utf8"), "x");
        await src.close();
        assert.equal((await second.cache.sources())[0]?.refs, 0);
        await second.cache.close();
      }));

    it("rebase keeps the stored hash tree of the snapshot it takes over", () =>
      withHarness(kind, async (h) => {
        const first = await openTestCache(h.adapters());
        await (await first.cache.syncFrom({ key: "old", sharedKey: "s", transport: "test", data: "x" })).close();
        await first.cache.close();
        // After a restart the tree is read from the MetaStore, under the key it moved to,
        // and handed to the transport as the snapshot's recorded state.
        const second = await openTestCache(h.adapters());
        assert.ok(await second.metaStore.getHashTree("old"));
        const src = await second.cache.syncFrom({ key: "new", sharedKey: "s", transport: "test", data: "y" });
        assert.deepEqual(
          [...(second.transport.previous?.entries() ?? [])].map(([p]) => p),
          ["old"],
        );
        await src.close();
        await second.cache.flush();
        assert.equal(await second.metaStore.getHashTree("old"), undefined);
        assert.ok(await second.metaStore.getHashTree("new"));
        await second.cache.close();
      }));

    it("rebase picks the most recently used idle candidate", () =>
      withHarness(kind, async (h) => {
        const clock = manualClock();
        const { cache } = await openTestCache({ ...h.adapters(), clock: clock.now });
        const roots: string[] = [];
        for (const key of ["a", "b", "c"]) {
          const src = await cache.syncFrom({ key, sharedKey: "s", transport: "test", data: key });
          roots.push(src.root);
          clock.advance(1000);
          await src.close();
        }
        // touch "b" last: it becomes the most recent
        clock.advance(1000);
        await (await cache.syncFrom({ key: "b", sharedKey: "s", transport: "test" })).close();
        const src = await cache.syncFrom({ key: "d", sharedKey: "s", transport: "test", data: "d" });
        assert.equal(src.root, roots[1]);
        await src.close();
        await cache.close();
      }));

    it("lastUsed is refreshed on reuse, so GC drops the least recently used, not the oldest created", () =>
      withHarness(kind, async (h) => {
        const clock = manualClock();
        const { cache } = await openTestCache({
          ...h.adapters(),
          clock: clock.now,
          gcPolicy: { maxSize: 1, maxKeepDuration: 1e9 },
        });
        const a = await cache.syncFrom({ key: "a", transport: "test", data: "1" });
        clock.advance(10);
        const b = await cache.syncFrom({ key: "b", transport: "test", data: "2" });
        clock.advance(10);
        await b.close();
        clock.advance(10);
        await a.close(); // a was created first but used last
        await cache.flush();
        assert.deepEqual(
          (await cache.sources()).map((s) => s.key),
          ["a"],
        );
        await cache.close();
      }));

    it("one unreadable record does not hide the others, and is reported", () =>
      withHarness(kind, async (h) => {
        const first = await openTestCache(h.adapters());
        await (await first.cache.syncFrom({ key: "good", transport: "test", data: "x" })).close();
        await first.cache.close();
        const { metaStore } = h.adapters();
        await metaStore.put({ key: "bad", backendId: "../../etc" } as unknown as SourceRecord);
        await metaStore.put({
          key: "gone",
          sharedKey: "",
          backendId: "feed",
          lastUsed: 1,
          priority: 0,
          size: 1,
          stale: false,
        });
        await metaStore.close();

        // A store that vets records itself reports the bad one to the same logger as the cache.
        const logger = recordingLogger();
        const second = await openTestCache({ ...h.adapters({ logger }), logger });
        assert.deepEqual(
          (await second.cache.sources()).map((s) => s.key),
          ["good"],
        );
        assert.ok(logger.messages.some((m) => m.includes("unreadable record")));
        assert.ok(logger.messages.some((m) => m.includes('"gone"') && m.includes("directory is gone")));
        await second.cache.close();
      }));

    it("close() waits for a garbage collection in flight", () =>
      withHarness(kind, async (h) => {
        const { backend, metaStore } = h.adapters();
        const gate = deferred();
        let removed = false;
        const remove = backend.remove.bind(backend);
        backend.remove = async (id) => {
          await gate.promise;
          await remove(id);
          removed = true;
        };
        const { cache } = await openTestCache({ backend, metaStore, gcPolicy: { maxSize: 0 } });
        await (await cache.syncFrom({ key: "k", transport: "test", data: "x" })).close(); // starts GC
        let closed = false;
        const closing = cache.close().then(() => {
          closed = true;
        });
        await new Promise((r) => setTimeout(r, 10));
        assert.equal(closed, false);
        gate.resolve();
        await closing;
        assert.equal(removed, true);
      }));

    it("a transport failure carries the key and the transport's code, and releases the reference", () =>
      withHarness(kind, async (h) => {
        const { cache } = await openTestCache(h.adapters());
        cache.registerTransport("broken", {
          async copy() {
            throw Object.assign(new Error("disk full"), { code: "ENOSPC", path: "/x" });
          },
        });
        const err = await cache.syncFrom({ key: "k", transport: "broken" }).catch((e) => e);
        assert.ok(err instanceof FSCacheError);
        assert.equal(err.code, "ENOSPC");
        assert.equal(err.key, "k");
        assert.match(err.message, /"k".*disk full/);
        const [info] = await cache.sources();
        assert.equal(info?.refs, 0);
        assert.equal(info?.stale, true);
        await cache.close();
      }));
  });
}
