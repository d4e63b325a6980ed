/** SPEC §3.1–3.2 under concurrency: singleflight, per-caller references, GC never takes a held source. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError, type Source } from "../mod.ts";
import { deferred, openTestCache, seededRandom } from "./_helpers.ts";

describe("singleflight", () => {
  it("50 concurrent syncs of one key run the transport once and hold 50 references", async () => {
    const { cache, transport } = await openTestCache();
    const sources = await Promise.all(
      Array.from({ length: 50 }, () => cache.syncFrom({ key: "k", sharedKey: "s", transport: "test", data: "x" })),
    );
    assert.equal(transport.calls, 1);
    assert.equal(new Set(sources.map((s) => s.root)).size, 1);
    assert.equal((await cache.sources())[0]?.refs, 50);
    for (const src of sources.slice(0, 49)) await src.close();
    assert.equal((await cache.sources())[0]?.refs, 1);
    assert.equal(await cache.prune(), 0);
    await sources[49]?.close();
    assert.equal((await cache.sources())[0]?.refs, 0);
    await cache.close();
  });

  it("a caller that aborts while others wait gets ERR_ABORTED; the others still get the snapshot", async () => {
    const { cache, transport } = await openTestCache();
    const gate = deferred();
    transport.gate = gate.promise;
    const quitter = new AbortController();
    const first = cache.syncFrom({ key: "k", transport: "test", data: "x" }, { signal: quitter.signal });
    const second = cache.syncFrom({ key: "k", transport: "test", data: "x" });
    quitter.abort();
    await assert.rejects(first, (e) => e instanceof FSCacheError && e.code === "ERR_ABORTED" && e.key === "k");
    gate.resolve();
    const src = await second;
    assert.equal(await src.fs.readFile(`${src.root}/k`, "utf8"), "x");
    assert.equal((await cache.sources())[0]?.refs, 1, "the quitter holds no reference");
    await src.close();
    await cache.close();
  });

  it("when every caller aborts, the transfer itself is aborted and the snapshot is marked stale", async () => {
    const { cache, transport } = await openTestCache();
    const gate = deferred();
    transport.gate = gate.promise;
    const controller = new AbortController();
    const pending = cache.syncFrom({ key: "k", transport: "test", data: "x" }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, { code: "ERR_ABORTED" });
    gate.resolve();
    await cache.flush();
    await new Promise((r) => setTimeout(r, 0));
    const [info] = await cache.sources();
    assert.equal(info?.stale, true);
    assert.equal(info?.refs, 0);
    transport.gate = undefined;
    const src = await cache.syncFrom({ key: "k", transport: "test", data: "x" });
    assert.equal(transport.calls, 2, "a stale snapshot is transferred again, not reused");
    assert.equal((await cache.sources())[0]?.stale, false);
    await src.close();
    await cache.close();
  });

  it("a caller arriving while an abandoned transfer winds down gets a fresh transfer, not its abort", async () => {
    const { cache, transport } = await openTestCache();
    const gate = deferred();
    transport.gate = gate.promise;
    const controller = new AbortController();
    const abandoned = cache.syncFrom({ key: "k", transport: "test", data: "x" }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(abandoned, { code: "ERR_ABORTED" });
    // The first transfer is still running (gated) when the next caller, who never aborted, comes.
    const next = cache.syncFrom({ key: "k", transport: "test", data: "y" });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(transport.calls, 1, "the new transfer waits for the abandoned one to end");
    gate.resolve();
    const src = await next;
    assert.equal(transport.calls, 2);
    assert.equal(await src.fs.readFile(`${src.root}/k`, "utf8"), "y");
    assert.equal((await cache.sources())[0]?.stale, false);
    await src.close();
    await cache.close();
  });

  it("different keys sharing one idle base: only one of them rebases it", async () => {
    const { cache } = await openTestCache();
    const base = await cache.syncFrom({ key: "base", sharedKey: "s", transport: "test", data: "0" });
    const baseRoot = base.root;
    await base.close();
    const [a, b] = await Promise.all([
      cache.syncFrom({ key: "a", sharedKey: "s", transport: "test", data: "1" }),
      cache.syncFrom({ key: "b", sharedKey: "s", transport: "test", data: "2" }),
    ]);
    assert.notEqual(a.root, b.root);
    assert.ok([a.root, b.root].includes(baseRoot));
    assert.deepEqual((await cache.sources()).map((s) => s.key).sort(), ["a", "b"]);
    await a.close();
    await b.close();
    await cache.close();
  });
});

describe("GC never deletes a held source", () => {
  it("holds under a randomized interleaving of syncs, releases and collections (seed 42)", async () => {
    const random = seededRandom(42);
    const { cache } = await openTestCache({ gcPolicy: { maxSize: 3, maxKeepDuration: 1e9 } });
    const held: Source[] = [];
    const ops: Promise<void>[] = [];
    for (let step = 0; step < 400; step++) {
      const r = random();
      if (r < 0.45) {
        const n = Math.floor(random() * 12);
        ops.push(
          cache
            .syncFrom({ key: `k${n}`, sharedKey: `s${n % 3}`, transport: "test", data: `v${n}` })
            .then((src) => void held.push(src)),
        );
      } else if (r < 0.8 && held.length > 0) {
        const src = held.splice(Math.floor(random() * held.length), 1)[0] as Source;
        ops.push(src.close());
      } else if (r < 0.9) {
        ops.push(cache.gc().then(() => undefined));
      } else {
        ops.push(cache.prune().then(() => undefined));
      }
      if (random() < 0.3) await Promise.all(ops.splice(0));
      // every held source must still exist with its content
      for (const src of held) {
        assert.ok(src.fs.existsSync(`${src.root}/${src.key}`), `held source ${src.key} lost its file`);
      }
    }
    await Promise.all(ops);
    const refs = new Map<string, number>();
    for (const src of held) refs.set(src.root, (refs.get(src.root) ?? 0) + 1);
    for (const info of await cache.sources()) assert.equal(info.refs, refs.get(info.path) ?? 0, `refs of ${info.key}`);
    for (const src of held) await src.close();
    assert.ok(
      (await cache.sources()).every((s) => s.refs === 0),
      "no reference leaks",
    );
    await cache.close();
  });
});
