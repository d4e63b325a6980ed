/** SPEC §3.1–3.2: transports and keys, GC by age and size, prune, the timer, close. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCache, FSCacheError, MAX_KEY_LENGTH, MemoryBackend, MemoryMetaStore, type Transport } from "../mod.ts";
import { deferred, manualClock, openTestCache, recordingLogger } from "./_helpers.ts";

const code = (c: string) => (e: unknown) => e instanceof FSCacheError && e.code === c;

describe("transports and identifiers", () => {
  it("rejects an unknown transport with ERR_UNKNOWN_TRANSPORT naming the key", async () => {
    const { cache } = await openTestCache();
    await assert.rejects(
      cache.syncFrom({ key: "k", transport: "nope" }),
      (e) => code("ERR_UNKNOWN_TRANSPORT")(e) && (e as FSCacheError).key === "k",
    );
    await cache.close();
  });

  it("a transport's file-system error names the entry that failed (for a symlink, the link, not its target)", async () => {
    const { cache } = await openTestCache();
    cache.registerTransport("clash", {
      async copy({ dest, fs }) {
        await fs.writeFile(`${dest}/entry`, "a file already here");
        await fs.symlink("target", `${dest}/entry`);
      },
    });
    await assert.rejects(cache.syncFrom({ key: "k", transport: "clash" }), (e) => {
      assert.ok(e instanceof FSCacheError);
      assert.equal(e.code, "EEXIST");
      assert.equal(e.key, "k");
      assert.match(e.path ?? "", /\/entry$/);
      return true;
    });
    await cache.close();
  });

  it("a failed system call that names no path (a full disk on write) is reported with the snapshot's path", async () => {
    const { cache } = await openTestCache();
    let dir = "";
    cache.registerTransport("full", {
      async copy({ dest }) {
        dir = dest;
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
      },
    });
    await assert.rejects(cache.syncFrom({ key: "k", transport: "full" }), (e) => {
      assert.ok(e instanceof FSCacheError);
      assert.deepEqual([e.code, e.key, e.path], ["ENOSPC", "k", dir]);
      return true;
    });
    await cache.close();
  });

  it("refuses to register a transport name twice", async () => {
    const { cache, transport } = await openTestCache();
    assert.throws(() => cache.registerTransport("test", transport), code("ERR_TRANSPORT_EXISTS"));
    await cache.close();
  });

  it("rejects empty, oversized and NUL-bearing keys with ERR_INVALID_KEY", async () => {
    const { cache } = await openTestCache();
    for (const key of ["", "a\0b", "x".repeat(MAX_KEY_LENGTH + 1), 42 as unknown as string]) {
      await assert.rejects(cache.syncFrom({ key, transport: "test" }), code("ERR_INVALID_KEY"));
    }
    await assert.rejects(cache.syncFrom({ key: "ok", sharedKey: "a\0", transport: "test" }), code("ERR_INVALID_KEY"));
    const src = await cache.syncFrom({ key: "x".repeat(MAX_KEY_LENGTH), transport: "test", data: "1" });
    await src.close();
    await cache.close();
  });

  it("Source.hash answers file: for a synced file, ENOENT for a missing one, ERR_INVALID_PATH with the key for an escape", async () => {
    const { cache } = await openTestCache();
    const src = await cache.syncFrom({ key: "k", transport: "test", data: "1" });
    assert.match(await src.hash("k"), /^file:[0-9a-f]{64}$/);
    await assert.rejects(src.hash("nope"), code("ENOENT"));
    await assert.rejects(src.hash("a/../.."), (e) => {
      assert.ok(e instanceof FSCacheError);
      assert.deepEqual([e.code, e.key, e.path], ["ERR_INVALID_PATH", "k", "a/../.."]);
      return true;
    });
    await src.close();
    await cache.close();
  });

  it("a second close of a source is a no-op", async () => {
    const { cache } = await openTestCache();
    const a = await cache.syncFrom({ key: "k", transport: "test", data: "1" });
    const b = await cache.syncFrom({ key: "k", transport: "test", data: "1" });
    await a.close();
    await a.close();
    assert.equal((await cache.sources())[0]?.refs, 1);
    await b.close();
    await cache.close();
  });
});

describe("Transport.prepare", () => {
  it("comes once per transfer, with the recorded entry count when rebasing, and not when a key is reused", async () => {
    const events: string[] = [];
    const metaStore = new MemoryMetaStore();
    const getHashTree = metaStore.getHashTree.bind(metaStore);
    metaStore.getHashTree = (key) => {
      events.push(`tree ${key}`);
      return getHashTree(key);
    };
    const { cache: first, backend } = await openTestCache({ metaStore });
    const transport: Transport = {
      prepare: ({ id, fs, entries }) => {
        assert.equal(fs, backend.fs);
        events.push(`prepare ${id.key}${entries === undefined ? "" : ` (${entries} entries)`}`);
      },
      copy: async ({ id, dest, fs }) => {
        events.push(`copy ${id.key}`);
        await fs.writeFile(`${dest}/f${id.key}`, id.key);
      },
    };
    const sync = async (cache: FSCache, key: string) => {
      await using _ = await cache.syncFrom({ key, sharedKey: "s", transport: "prepared" });
    };
    first.registerTransport("prepared", transport);
    await sync(first, "k1");
    await sync(first, "k1"); // reused: no transfer
    await first.close();
    // Reopened, the cache reads the recorded tree from the store when k2 rebases onto k1.
    const { cache } = await openTestCache({ metaStore, backend });
    cache.registerTransport("prepared", transport);
    await sync(cache, "k2");
    // k2 is told the size of what it updates (k1's one file), read before the tree is
    // decoded: read under k1's key, while the rebase onto k2 is written.
    assert.deepEqual(events, ["prepare k1", "copy k1", "tree k1", "prepare k2 (1 entries)", "copy k2"]);
    await sync(cache, "k3"); // rebased onto k2, whose tree is in memory
    assert.equal(events.at(-2), "prepare k3 (2 entries)");
    await cache.close();
  });

  it("a prepare that throws is only a lost head start: the sync goes on, no reference is left behind", async () => {
    const logger = recordingLogger();
    const { cache } = await openTestCache({ logger });
    let fail = false;
    cache.registerTransport("t", {
      prepare() {
        if (fail) throw new Error("cannot start a worker");
      },
      async copy({ id, dest, fs }) {
        await fs.writeFile(`${dest}/f`, id.key);
      },
    });
    await (await cache.syncFrom({ key: "k1", sharedKey: "s", transport: "t" })).close();
    fail = true;
    const src = await cache.syncFrom({ key: "k2", sharedKey: "s", transport: "t" }); // a rebase onto k1
    assert.equal(await src.fs.readFile(`${src.root}/f`, "utf8"), "k2");
    await src.close();
    await cache.flush();
    assert.deepEqual(
      (await cache.sources()).map((s) => [s.key, s.refs]),
      [["k2", 0]],
    );
    assert.ok(logger.messages.some((m) => m.includes('failed to prepare key "k2"')));
    assert.ok((await cache.prune()) > 0);
    await cache.close();
  });
});

/** A memory backend whose deletions wait for `gate`, with `entered` resolved at the first. */
class GatedBackend extends MemoryBackend {
  gate: ReturnType<typeof deferred> | undefined;
  entered = deferred();
  override async remove(id: string): Promise<void> {
    this.entered.resolve();
    await this.gate?.promise;
    await super.remove(id);
  }
}

describe("garbage collection", () => {
  it("drops idle sources older than maxKeepDuration, keeps recent ones", async () => {
    const clock = manualClock();
    const { cache } = await openTestCache({ clock: clock.now, gcPolicy: { maxSize: 1e9, maxKeepDuration: 60_000 } });
    await (await cache.syncFrom({ key: "old", transport: "test", data: "1" })).close();
    clock.advance(50_000);
    await (await cache.syncFrom({ key: "new", transport: "test", data: "2" })).close();
    await cache.flush();
    clock.advance(20_000);
    const result = await cache.gc();
    assert.deepEqual(result, { removed: ["old"], freed: 1 });
    assert.deepEqual(
      (await cache.sources()).map((s) => s.key),
      ["new"],
    );
    await cache.close();
  });

  it("never collects a held source, however old or large", async () => {
    const clock = manualClock();
    const { cache } = await openTestCache({ clock: clock.now, gcPolicy: { maxSize: 0, maxKeepDuration: 0 } });
    const src = await cache.syncFrom({ key: "k", transport: "test", data: "12345" });
    clock.advance(1e9);
    assert.deepEqual(await cache.gc(), { removed: [], freed: 0 });
    assert.equal(await src.fs.readFile(`${src.root}/k`, "utf8"), "12345");
    await src.close();
    await cache.close();
  });

  it("runs on the periodic timer, which does not keep the process alive", async () => {
    const clock = manualClock();
    const { cache } = await openTestCache({ clock: clock.now, gcInterval: 5, gcPolicy: { maxKeepDuration: 1000 } });
    await (await cache.syncFrom({ key: "k", transport: "test", data: "1" })).close();
    await cache.flush();
    clock.advance(5000);
    for (let i = 0; i < 100 && (await cache.sources()).length > 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await cache.sources()).length, 0);
    await cache.close();
  });

  it("rejects a gcInterval a timer cannot keep (negative, not a number, beyond 2^31-1 ms)", async () => {
    for (const gcInterval of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "10" as unknown as number]) {
      await assert.rejects(
        FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcInterval }),
        code("ERR_INVALID_OPTION"),
        String(gcInterval),
      );
    }
    for (const gcInterval of [0, 2 ** 31 - 1]) {
      await (
        await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcInterval })
      ).close();
    }
  });

  it("rejects a nonsensical policy with ERR_INVALID_OPTION", async () => {
    await assert.rejects(
      FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcPolicy: { maxSize: -1 } }),
      code("ERR_INVALID_OPTION"),
    );
  });
});

describe("diskUsage and prune", () => {
  it("counts regular files and symlink targets, each hard-linked inode once", async () => {
    const { cache } = await openTestCache();
    cache.registerTransport("tree", {
      async copy({ dest, fs }) {
        await fs.writeFile(`${dest}/a`, "12345");
        fs.mkdirSync(`${dest}/d`);
        await fs.writeFile(`${dest}/d/b`, "123");
        await fs.symlink("a-target", `${dest}/l`); // 8 bytes of target
        fs.linkSync(`${dest}/a`, `${dest}/hard`);
      },
    });
    await (await cache.syncFrom({ key: "t", transport: "tree" })).close();
    assert.equal(await cache.diskUsage(), 5 + 3 + 8);
    await cache.close();
  });

  it("prune stops at abort and returns what it freed so far", async () => {
    const { cache } = await openTestCache();
    for (const key of ["a", "b", "c"]) await (await cache.syncFrom({ key, transport: "test", data: "xx" })).close();
    await cache.flush();
    const controller = new AbortController();
    controller.abort();
    assert.equal(await cache.prune({ signal: controller.signal }), 0);
    assert.equal((await cache.sources()).length, 3);
    assert.equal(await cache.prune(), 6);
    await cache.close();
  });
});

describe("close and restart", () => {
  it("after close every call fails with ERR_CLOSED, and close is idempotent", async () => {
    const { cache, transport } = await openTestCache();
    await cache.close();
    await cache.close();
    await assert.rejects(
      cache.syncFrom({ key: "k", transport: "test" }),
      (e) => code("ERR_CLOSED")(e) && (e as FSCacheError).key === "k",
    );
    await assert.rejects(cache.get("k"), (e) => code("ERR_CLOSED")(e) && (e as FSCacheError).key === "k");
    await assert.rejects(cache.diskUsage(), code("ERR_CLOSED"));
    await assert.rejects(cache.prune(), code("ERR_CLOSED"));
    await assert.rejects(cache.gc(), code("ERR_CLOSED"));
    assert.throws(() => cache.registerTransport("x", transport), code("ERR_CLOSED"));
  });

  it("close waits for a sync in flight", async () => {
    const { cache, transport } = await openTestCache();
    let release!: () => void;
    transport.gate = new Promise((r) => (release = r));
    const pending = cache.syncFrom({ key: "k", transport: "test", data: "1" });
    let closed = false;
    const closing = cache.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(closed, false);
    release();
    await (await pending).close();
    await closing;
  });

  it("close waits for an explicit prune or gc in flight; the prune stops early, neither fails", async () => {
    for (const call of ["prune", "gc"] as const) {
      const backend = new GatedBackend();
      const clock = manualClock();
      const { cache, metaStore } = await openTestCache({ backend, clock: clock.now, gcPolicy: { maxKeepDuration: 1 } });
      for (const key of ["a", "b", "c"]) await (await cache.syncFrom({ key, transport: "test", data: "xx" })).close();
      await cache.flush();
      clock.advance(10);
      backend.gate = deferred();
      const running = call === "prune" ? cache.prune() : cache.gc().then((r) => r.freed);
      await backend.entered.promise; // deleting its first source
      let closed = false;
      const closing = cache.close().then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(closed, false, `${call}: close waits`);
      backend.gate.resolve();
      const freed = await running;
      await closing;
      // The prune stopped after the source it was deleting; gc finished its round.
      assert.equal(freed, call === "prune" ? 2 : 6, call);
      const again = await openTestCache({ backend, metaStore });
      const left = await again.cache.sources();
      assert.equal(left.length, call === "prune" ? 2 : 0, call);
      for (const info of left) assert.equal(backend.fs.existsSync(info.path), true, "each record keeps its snapshot");
      await again.cache.close();
    }
  });

  it("reopening over the same MetaStore and backend restores every source", async () => {
    const backend = new MemoryBackend();
    const metaStore = new MemoryMetaStore();
    const clock = manualClock();
    const first = await openTestCache({ backend, metaStore, clock: clock.now });
    for (const key of ["a", "b", "c"]) {
      clock.advance(1);
      await (await first.cache.syncFrom({ key, sharedKey: `s-${key}`, transport: "test", data: key })).close();
    }
    await first.cache.flush();
    const before = await first.cache.sources();
    await first.cache.close();
    const second = await openTestCache({ backend, metaStore, clock: clock.now });
    assert.deepEqual(await second.cache.sources(), before);
    await second.cache.close();
  });

  it("removes snapshot directories that no record owns (orphans) on open, and only those fscache named", async () => {
    const backend = new MemoryBackend();
    const orphan = await backend.get("0123456789abcdef0123456789abcdef");
    const byHand = await backend.get("release-2");
    backend.fs.writeFileSync(`${byHand}/notes.txt`, "mine");
    const { cache } = await openTestCache({ backend });
    assert.equal(backend.fs.existsSync(orphan), false);
    assert.equal(await backend.fs.readFile(`${byHand}/notes.txt`, "utf8"), "mine");
    await cache.close();
  });
});

describe("get", () => {
  it("references a cached source without transfer, and nothing when the key is unknown or stale", async () => {
    const { cache, transport } = await openTestCache();
    assert.equal(await cache.get("k"), undefined);
    await (await cache.syncFrom({ key: "k", transport: "test", data: "1" })).close();
    const src = await cache.get("k");
    assert.ok(src);
    assert.equal(await src.fs.readFile(`${src.root}/k`, "utf8"), "1");
    assert.equal((await cache.sources())[0]?.refs, 1);
    await src.close();
    assert.equal(transport.calls, 1);
    cache.registerTransport("broken", {
      async copy() {
        throw new Error("cut");
      },
    });
    await assert.rejects(cache.syncFrom({ key: "bad", transport: "broken" }));
    assert.equal(await cache.get("bad"), undefined);
    await cache.close();
  });
});
