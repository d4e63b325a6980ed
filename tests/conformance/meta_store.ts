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

    it(
      "holds many keys, written concurrently, and keeps them across reopen",
      withStore(async (store, h) => {
        const keys = Array.from({ length: 300 }, (_, i) => `key-${i}-${"é".repeat(i % 7)}`);
        await Promise.all(keys.map((key, i) => store.put(record(key, { backendId: `id${i}`, size: i }))));
        await Promise.all(keys.slice(0, 50).map((key) => store.putHashTree(key, new TextEncoder().encode(key))));
        const check = async (s: MetaStore) => {
          const loaded = await s.loadAll();
          assert.equal(loaded.length, keys.length);
          assert.deepEqual(loaded.map((r) => r.key).sort(), [...keys].sort());
          for (const r of loaded) assert.equal(r.backendId, `id${r.size}`);
          assert.deepEqual(await s.getHashTree(keys[8]!), new TextEncoder().encode(keys[8]));
        };
        await check(store);
        await store.close();
        const again = await h.reopen();
        try {
          await check(again);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      "concurrent puts of one key land in call order",
      withStore(async (store) => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(record("k", { lastUsed: i }))));
        assert.deepEqual(await store.loadAll(), [record("k", { lastUsed: 19 })]);
      }),
    );

    it(
      "a rebased record keeps its hash tree across reopen, and deleting it removes the tree",
      withStore(async (store, h) => {
        await store.put(record("old", { backendId: "snap" }));
        await store.putHashTree("old", new Uint8Array([9, 9]));
        await store.rebase("old", record("new", { backendId: "snap", lastUsed: 5 }));
        await store.close();
        const again = await h.reopen();
        try {
          assert.deepEqual(await again.loadAll(), [record("new", { backendId: "snap", lastUsed: 5 })]);
          assert.deepEqual(await again.getHashTree("new"), new Uint8Array([9, 9]));
          assert.equal(await again.getHashTree("old"), undefined);
          await again.delete("new");
          assert.deepEqual(await again.loadAll(), []);
          assert.equal(await again.getHashTree("new"), undefined);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      "rebase onto a key that has a record replaces that record",
      withStore(async (store) => {
        await store.put(record("a", { backendId: "one" }));
        await store.put(record("b", { backendId: "two" }));
        await store.putHashTree("a", new Uint8Array([1]));
        await store.rebase("a", record("b", { backendId: "one" }));
        assert.deepEqual(await store.loadAll(), [record("b", { backendId: "one" })]);
        assert.deepEqual(await store.getHashTree("b"), new Uint8Array([1]));
      }),
    );

    it(
      "rebase of a key that has no record stores the new one",
      withStore(async (store) => {
        await store.rebase("missing", record("new"));
        assert.deepEqual(await store.loadAll(), [record("new")]);
      }),
    );

    it(
      "keeps a digest input beside the tree: replaced by the next, moved by a rebase, removed by a delete",
      withStore(async (store, h) => {
        if (!store.putDigestInput || !store.getDigestInput) return assert.fail(`${name} keeps no digest input`);
        await store.put(record("old", { backendId: "snap" }));
        await store.putHashTree("old", new Uint8Array([1]));
        assert.equal(await store.getDigestInput("old"), undefined);
        const first = new Uint8Array(70_000).map((_, i) => (i * 7) & 255);
        await store.putDigestInput("old", first);
        await store.putDigestInput("old", first.subarray(0, 500));
        const read = (await store.getDigestInput("old")) as Uint8Array;
        assert.deepEqual(read, first.slice(0, 500));
        // A copy: changing what was read changes nothing stored.
        read.fill(0);
        assert.deepEqual(await store.getDigestInput("old"), first.slice(0, 500));
        await store.rebase("old", record("new", { backendId: "snap" }));
        assert.equal(await store.getDigestInput("old"), undefined);
        await store.close();
        const again = await h.reopen();
        try {
          assert.deepEqual(await again.getDigestInput?.("new"), first.slice(0, 500));
          await again.delete("new");
          assert.equal(await again.getDigestInput?.("new"), undefined);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      "round-trips a large hash tree",
      withStore(async (store) => {
        const tree = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 255);
        await store.put(record("big"));
        await store.putHashTree("big", tree);
        await store.putHashTree("big", tree.subarray(0, 1000));
        assert.deepEqual(await store.getHashTree("big"), tree.slice(0, 1000));
      }),
    );
  });
}
