/** SPEC §3.1 step 6–7, §4.2–4.3: the cache keeps each snapshot's hash tree and answers Source.hash from it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CopyRequest,
  FSCacheError,
  inlineScanner,
  MemoryBackend,
  MemoryMetaStore,
  MemoryTransport,
  nodeSha256,
  type RecordedTree,
  type TreeScanner,
} from "../mod.ts";
import { openTestCache } from "./_helpers.ts";

const code = (c: string) => (e: unknown) => e instanceof FSCacheError && e.code === c;

/** Counts full scans, so tests can tell incremental updates from rescans. */
function countingScanner(): TreeScanner & { scans: number } {
  const scanner = {
    scans: 0,
    scan(...args: Parameters<TreeScanner["scan"]>) {
      scanner.scans++;
      return inlineScanner.scan(...args);
    },
  };
  return scanner;
}

const tree = {
  "dir/": { a: "A" },
  foo: "data",
  e: "",
  lnk: { symlink: "target" },
  test: { content: "contents test", mode: 0o755 },
};

describe("Source.hash", () => {
  it("gives SPEC's answers from a transport's reported changes, without scanning", async () => {
    const scanner = countingScanner();
    const { cache } = await openTestCache({ scanner });
    const transport = new MemoryTransport(tree);
    cache.registerTransport("mem", transport);
    const src = await cache.syncFrom({ key: "k", transport: "mem" });
    assert.equal(await src.hash("foo"), "file:68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74");
    assert.equal(await src.hash("/e"), "file:4878f6658e95238c4637a18a5193396620e0fcbe1c73ea375d608a6ade41f16c");
    assert.equal(await src.hash("lnk"), "file:ecb48bbdfb9e0ee956b28be4be63b38c5056fa62efbab63a324163249c3ed1b3");
    assert.equal(await src.hash("test"), "file:1149ab94af7be6cc1da1335e398f24ee1cf4926b720044d229969dfc248ae7ec");
    assert.equal(scanner.scans, 0);
    // memfs makes directories 0777, so "dir" is not SPEC's 0755 example: compare with a scan.
    const scanned = await inlineScanner.scan(src.fs, src.root, nodeSha256);
    assert.equal(await src.hash("./dir//"), scanned.hash("dir"));
    assert.equal(await src.hash("."), scanned.hash("."));
    await assert.rejects(
      src.hash("dir/missing"),
      (e) => code("ENOENT")(e) && (e as FSCacheError).path === "dir/missing",
    );
    await assert.rejects(src.hash("../etc"), code("ERR_INVALID_PATH"));
    await src.close();
    await cache.close();
  });

  it("rescans after a transport that does not report changes, and the answers agree", async () => {
    const scanner = countingScanner();
    const { cache } = await openTestCache({ scanner });
    const silent = new MemoryTransport(tree);
    cache.registerTransport("silent", {
      copy: (req: CopyRequest) =>
        silent.copy({
          ...req,
          updater: { ...req.updater, markSupported() {}, handleChange() {}, sha256: req.updater.sha256 },
        }),
    });
    const src = await cache.syncFrom({ key: "k", transport: "silent" });
    assert.equal(scanner.scans, 1);
    assert.equal(await src.hash("foo"), "file:68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74");
    const reported = await openTestCache();
    reported.cache.registerTransport("mem", new MemoryTransport(tree));
    const other = await reported.cache.syncFrom({ key: "k", transport: "mem" });
    for (const path of [".", "dir", "dir/a", "lnk"]) assert.equal(await src.hash(path), await other.hash(path), path);
    await other.close();
    await reported.cache.close();
    await src.close();
    await cache.close();
  });

  it("updates the recorded tree incrementally on rebase and hands it to the transport as `previous`", async () => {
    const scanner = countingScanner();
    const { cache } = await openTestCache({ scanner });
    const transport = new MemoryTransport(tree);
    let previous: RecordedTree | undefined;
    let recordedA: string | undefined;
    cache.registerTransport("mem", {
      copy(req) {
        // `previous` is the state before this copy; read it during the copy, as transports do.
        previous = req.previous;
        recordedA = req.previous?.get("dir/a")?.checksum;
        return transport.copy(req);
      },
    });
    await (await cache.syncFrom({ key: "v1", sharedKey: "p", transport: "mem" })).close();
    assert.equal(previous, undefined, "a fresh snapshot has no recorded state");
    transport.tree = { "dir/": { b: "B" }, foo: "data2" };
    const src = await cache.syncFrom({ key: "v2", sharedKey: "p", transport: "mem" });
    assert.equal(recordedA, "6fbc54d998e31a24730876090786c29fe60166132a04f04484e4657387bba1e0");
    assert.equal(scanner.scans, 0);
    const scanned = await inlineScanner.scan(src.fs, src.root, nodeSha256);
    for (const path of [".", "dir", "dir/b", "foo"]) assert.equal(await src.hash(path), scanned.hash(path), path);
    await assert.rejects(src.hash("dir/a"), code("ENOENT"));
    await src.close();
    await cache.close();
  });

  it("saves the tree with every sync and loads it after a restart", async () => {
    const backend = new MemoryBackend();
    const metaStore = new MemoryMetaStore();
    const first = await openTestCache({ backend, metaStore });
    first.cache.registerTransport("mem", new MemoryTransport(tree));
    const expected = await (async () => {
      const src = await first.cache.syncFrom({ key: "k", transport: "mem" });
      const h = await src.hash(".");
      await src.close();
      return h;
    })();
    await first.cache.close();
    const scanner = countingScanner();
    const second = await openTestCache({ backend, metaStore, scanner });
    second.cache.registerTransport("mem", new MemoryTransport({}));
    const src = await second.cache.syncFrom({ key: "k", transport: "mem" });
    assert.equal(await src.hash("."), expected);
    assert.equal(scanner.scans, 0, "the stored tree was used");
    await src.close();
    await second.cache.close();
  });

  it("rescans when the stored tree is corrupt (and says so)", async () => {
    const backend = new MemoryBackend();
    const metaStore = new MemoryMetaStore();
    const first = await openTestCache({ backend, metaStore });
    first.cache.registerTransport("mem", new MemoryTransport(tree));
    await (await first.cache.syncFrom({ key: "k", transport: "mem" })).close();
    await first.cache.close();
    await metaStore.putHashTree("k", new Uint8Array([1, 2, 3]));
    const scanner = countingScanner();
    const second = await openTestCache({ backend, metaStore, scanner });
    second.cache.registerTransport("mem", new MemoryTransport({}));
    const src = await second.cache.syncFrom({ key: "k", transport: "mem" });
    assert.equal(await src.hash("dir"), (await inlineScanner.scan(src.fs, src.root, nodeSha256)).hash("dir"));
    assert.equal(scanner.scans, 1);
    await src.close();
    await second.cache.close();
  });

  it("a failed sync marks the tree stale: the repair sync rescans", async () => {
    const scanner = countingScanner();
    const { cache } = await openTestCache({ scanner });
    const transport = new MemoryTransport(tree);
    let fail = true;
    let previous: RecordedTree | undefined;
    cache.registerTransport("flaky", {
      async copy(req) {
        previous = req.previous;
        await transport.copy(req);
        if (fail) throw new Error("connection lost");
      },
    });
    await assert.rejects(cache.syncFrom({ key: "k", transport: "flaky" }));
    fail = false;
    transport.tree = { foo: "data" };
    const src = await cache.syncFrom({ key: "k", transport: "flaky" });
    assert.equal(previous, undefined);
    assert.equal(scanner.scans, 1);
    assert.equal(await src.hash("foo"), "file:68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74");
    await assert.rejects(src.hash("dir"), code("ENOENT"));
    await src.close();
    await cache.close();
  });

  it("rejects changes with unclean paths or without a checksum at the transport's call", async () => {
    const { cache } = await openTestCache();
    cache.registerTransport("bad", {
      async copy({ updater }) {
        updater.markSupported(true);
        updater.handleChange("add", "a/../../x", "0".repeat(64));
      },
    });
    await assert.rejects(cache.syncFrom({ key: "k", transport: "bad" }), code("ERR_INVALID_PATH"));
    await cache.close();
  });
});
