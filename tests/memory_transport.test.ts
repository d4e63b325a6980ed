/** MemoryTransport: a faithful test double — makes the snapshot equal the tree and reports each change. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CacheUpdater,
  type ChangeKind,
  FSCache,
  MemoryBackend,
  MemoryMetaStore,
  MemoryTransport,
  nodeSha256,
} from "../mod.ts";

function recorder(): CacheUpdater & { changes: [ChangeKind, string, string | undefined][]; supported: boolean } {
  const changes: [ChangeKind, string, string | undefined][] = [];
  return {
    changes,
    supported: false,
    sha256: nodeSha256,
    markSupported(s) {
      this.supported = s;
    },
    handleChange(kind, path, checksum) {
      changes.push([kind, path, checksum]);
    },
  };
}

describe("MemoryTransport", () => {
  it("copies files, directories and symlinks, and counts transfers through a cache", async () => {
    const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcInterval: 0 });
    const transport = new MemoryTransport({ "a.txt": "text", "dir/": { "b.txt": "b" }, link: { symlink: "a.txt" } });
    cache.registerTransport("mem", transport);
    const src = await cache.syncFrom({ key: "k", transport: "mem" });
    assert.equal(await src.fs.readFile(`${src.root}/a.txt`, "utf8"), "text");
    assert.equal(await src.fs.readFile(`${src.root}/dir/b.txt`, "utf8"), "b");
    assert.equal(await src.fs.readlink(`${src.root}/link`), "a.txt");
    assert.equal(transport.transfers, 1);
    await src.close();
    await cache.close();
  });

  it("retargets a symlink on the next sync, whether its old target dangles or exists", async () => {
    const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcInterval: 0 });
    const transport = new MemoryTransport({ a: "A", dangling: { symlink: "nowhere" }, real: { symlink: "a" } });
    cache.registerTransport("mem", transport);
    await (await cache.syncFrom({ key: "k1", sharedKey: "s", transport: "mem" })).close();
    transport.tree = { a: "A", b: "B", dangling: { symlink: "b" }, real: { symlink: "b" } };
    const src = await cache.syncFrom({ key: "k2", sharedKey: "s", transport: "mem" });
    assert.equal(await src.fs.readlink(`${src.root}/dangling`), "b");
    assert.equal(await src.fs.readlink(`${src.root}/real`), "b");
    const fresh = await cache.syncFrom({ key: "k3", transport: "mem" });
    assert.equal(await src.hash("."), await fresh.hash("."), "the reported checksums equal a fresh copy's");
    await fresh.close();
    await src.close();
    await cache.close();
  });

  it("reports adds with Docker checksums, then only the differences", async () => {
    const backend = new MemoryBackend();
    const dest = await backend.get("x");
    const transport = new MemoryTransport({ foo: "data", "dir/": { a: "A" }, gone: "g" });
    const first = recorder();
    await transport.copy({
      id: { key: "k", transport: "m" },
      dest,
      fs: backend.fs,
      updater: first,
      signal: new AbortController().signal,
    });
    assert.equal(first.supported, true);
    assert.deepEqual(
      first.changes.find(([, p]) => p === "foo"),
      ["add", "foo", "68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74"],
    );
    assert.deepEqual(
      first.changes.find(([, p]) => p === "dir/a"),
      ["add", "dir/a", "6fbc54d998e31a24730876090786c29fe60166132a04f04484e4657387bba1e0"],
    );

    transport.tree = { foo: "data2", "dir/": { a: "A" }, "gone/": {} };
    const second = recorder();
    await transport.copy({
      id: { key: "k", transport: "m" },
      dest,
      fs: backend.fs,
      updater: second,
      signal: new AbortController().signal,
    });
    assert.deepEqual(
      second.changes.map(([kind, path]) => `${kind} ${path}`),
      ["delete gone", "modify foo", "add gone"],
    );
  });
});
