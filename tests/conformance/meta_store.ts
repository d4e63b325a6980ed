/**
 * The MetaStore conformance suite: every MetaStore adapter runs exactly these tests.
 * `open` may be called again on the same location to check persistence; `reopen`
 * is false for stores that keep nothing across instances.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetaStore, SourceRecord } from "../../mod.ts";

/** How a suite run gets stores: `open()` a fresh location, `reopen()` the same one again. */
export interface MetaStoreHarness {
  open(): Promise<MetaStore>;
  reopen(): Promise<MetaStore>;
  cleanup?(): Promise<void>;
}

const record = (key: string, extra: Partial<SourceRecord> = {}): SourceRecord => ({
  key,
  sharedKey: "shared",
  backendId: `id-${key.length}`,
  lastUsed: 1000,
  priority: 0,
  size: null,
  stale: false,
  ...extra,
});

const byKey = (a: SourceRecord, b: SourceRecord) => (a.key < b.key ? -1 : 1);

/** Registers the suite for one adapter. */
export function testMetaStore(name: string, harness: () => MetaStoreHarness): void {
  describe(`MetaStore conformance: ${name}`, () => {
    const withStore = (fn: (store: MetaStore, h: MetaStoreHarness) => Promise<void>) => async () => {
      const h = harness();
      const store = await h.open();
      try {
        await fn(store, h);
      } finally {
        await store.close().catch(() => undefined);
        await h.cleanup?.();
      }
    };

    it(
      "starts empty",
      withStore(async (store) => {
        assert.deepEqual(await store.loadAll(), []);
      }),
    );

    it(
      "puts, overwrites and loads records",
      withStore(async (store) => {
        await store.put(record("a"));
        await store.put(record("b", { size: 12, stale: true }));
        await store.put(record("a", { lastUsed: 2000 }));
        assert.deepEqual((await store.loadAll()).sort(byKey), [
          record("a", { lastUsed: 2000 }),
          record("b", { size: 12, stale: true }),
        ]);
      }),
    );

    it(
      "keeps keys with any characters apart (slashes, dots, unicode, very long)",
      withStore(async (store) => {
        const keys = ["a/b", "../x", ".", "ключ", "a".repeat(1024), "A", "a"];
        for (const key of keys) await store.put(record(key));
        assert.deepEqual((await store.loadAll()).map((r) => r.key).sort(), [...keys].sort());
      }),
    );

    it(
      "deletes a record with its hash tree; deleting a missing key is fine",
      withStore(async (store) => {
        await store.put(record("a"));
        await store.putHashTree("a", new Uint8Array([1, 2]));
        await store.delete("a");
        await store.delete("never");
        assert.deepEqual(await store.loadAll(), []);
        assert.equal(await store.getHashTree("a"), undefined);
      }),
    );

    it(
      "stores hash trees as bytes, copied rather than shared",
      withStore(async (store) => {
        const tree = new Uint8Array([0, 255, 7]);
        await store.put(record("a"));
        await store.putHashTree("a", tree);
        tree[0] = 9;
        assert.deepEqual(await store.getHashTree("a"), new Uint8Array([0, 255, 7]));
        assert.equal(await store.getHashTree("b"), undefined);
      }),
    );

    it(
      "rebase moves the record and its hash tree to the new key",
      withStore(async (store) => {
        await store.put(record("old"));
        await store.putHashTree("old", new Uint8Array([4, 5]));
        await store.rebase("old", record("new", { lastUsed: 3000 }));
        assert.deepEqual(await store.loadAll(), [record("new", { lastUsed: 3000 })]);
        assert.deepEqual(await store.getHashTree("new"), new Uint8Array([4, 5]));
        assert.equal(await store.getHashTree("old"), undefined);
      }),
    );

    it(
      "keeps everything across close and reopen",
      withStore(async (store, h) => {
        await store.put(record("a", { size: 5 }));
        await store.putHashTree("a", new Uint8Array([1]));
        await store.close();
        const again = await h.reopen();
        try {
          assert.deepEqual(await again.loadAll(), [record("a", { size: 5 })]);
          assert.deepEqual(await again.getHashTree("a"), new Uint8Array([1]));
        } finally {
          await again.close();
        }
      }),
    );
  });
}
