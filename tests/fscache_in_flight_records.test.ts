/**
 * What a crash mid-transfer would find: while a transfer runs, the persisted record of
 * its source says stale, whichever way the source was obtained, so a restart never
 * trusts a half-written snapshot.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryMetaStore } from "../mod.ts";
import { deferred, openTestCache } from "./_helpers.ts";

async function persisted(metaStore: MemoryMetaStore, key: string) {
  return (await metaStore.loadAll()).find((r) => r.key === key);
}

describe("records while a transfer is in flight", () => {
  it("a new source is persisted stale until its transfer succeeds", async () => {
    const metaStore = new MemoryMetaStore();
    const { cache, transport } = await openTestCache({ metaStore });
    const gate = deferred();
    transport.gate = gate.promise;
    const syncing = cache.syncFrom({ key: "k", transport: "test", data: "x" });
    while (transport.calls === 0) await new Promise((r) => setTimeout(r, 1));
    assert.equal((await persisted(metaStore, "k"))?.stale, true);
    gate.resolve();
    await (await syncing).close();
    await cache.flush();
    assert.equal((await persisted(metaStore, "k"))?.stale, false);
    await cache.close();
  });

  it("a rebased source is persisted stale under its new key, even when a size walk of it ends meanwhile", async () => {
    const metaStore = new MemoryMetaStore();
    const first = await openTestCache({ metaStore });
    await (await first.cache.syncFrom({ key: "old", sharedKey: "s", transport: "test", data: "x" })).close();
    await first.cache.close();
    // Reopened with the size unknown, so the next diskUsage() walks the snapshot.
    await metaStore.put({ ...(await persisted(metaStore, "old"))!, size: null });
    const { cache, transport } = await openTestCache({ metaStore, backend: first.backend });
    const gate = deferred();
    transport.gate = gate.promise;
    // The takeover is scheduled first but runs after the walk (size unknown after the
    // sync) has started on the still-idle source; the walk ends after the takeover.
    const syncing = cache.syncFrom({ key: "new", sharedKey: "s", transport: "test", data: "y" });
    await cache.diskUsage();
    while (transport.calls === 0) await new Promise((r) => setTimeout(r, 1));
    await cache.flush();
    assert.equal((await persisted(metaStore, "new"))?.stale, true);
    assert.equal(await persisted(metaStore, "old"), undefined);
    gate.resolve();
    await (await syncing).close();
    await cache.flush();
    assert.equal((await persisted(metaStore, "new"))?.stale, false);
    await cache.close();
  });
});
