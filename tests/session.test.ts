/** Push sessions in memory and over loopback TCP: round trips, reuse, singleflight, handshake errors. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { pushTree } from "../transports/session/client.ts";
import { controlFrame, FrameReader, parseControl } from "../transports/session/frames.ts";
import { connectSession, listenSessions } from "../transports/session/tcp.ts";
import { tokenVerifier } from "../transports/session/token.ts";
import { assertSameTree, disk, writeTree } from "./_diffcopy.ts";
import { sessionFixture, snapshotOf } from "./_session.ts";

const tree = {
  "a.txt": "hello",
  "dir/": "",
  "dir/b.bin": "b".repeat(200_000),
  "dir/c": { content: "run", mode: 0o755 },
  link: { symlink: "a.txt" },
  "skip.log": "excluded",
} as const;

describe("push sessions", () => {
  it("round trip in memory; a repeat push moves nothing; a change moves only itself", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, tree);
    const push = async (key: string) => {
      const [client, server] = memoryPipe();
      const serving = f.server.handle(server);
      const result = await pushTree(client, { fs: disk, root: f.src, key, sharedKey: "s", excludes: ["*.log"] });
      const outcome = await serving;
      assert.equal(outcome.ok, true);
      return result;
    };
    const first = await push("k1");
    assert.equal(first.reused, false);
    assert.equal(first.bytesSent, 200_000 + 5 + 3);
    assert.equal(first.added, 5);
    assert.match(first.checksum, /^dir:[0-9a-f]{64}$/);
    const snap = await snapshotOf(f.cache, "k1");
    assert.equal(disk.existsSync(`${snap}/skip.log`), false, "excluded file not sent");
    disk.unlinkSync(`${f.src}/skip.log`);
    assertSameTree(disk, snap, f.src);
    disk.writeFileSync(`${f.src}/skip.log`, "back");

    const again = await push("k2");
    assert.deepEqual([again.bytesSent, again.filesSent, again.added, again.modified, again.deleted], [0, 0, 0, 0, 0]);
    assert.equal(again.checksum, first.checksum);
    assert.ok(again.wireBytes > 0);

    disk.writeFileSync(`${f.src}/a.txt`, "hello, world");
    disk.unlinkSync(`${f.src}/dir/c`);
    const changed = await push("k3");
    assert.deepEqual([changed.bytesSent, changed.filesSent, changed.modified, changed.deleted], [12, 1, 1, 1]);
    assert.notEqual(changed.checksum, first.checksum);
  });

  it("over loopback TCP, with a token; a wrong or missing token is refused", async () => {
    await using f = await sessionFixture({ verifyToken: tokenVerifier("s3cret") });
    writeTree(disk, f.src, tree);
    const listener = await listenSessions(f.server, "127.0.0.1", 0);
    try {
      const ok = await pushTree(await connectSession("127.0.0.1", listener.port), {
        fs: disk,
        root: f.src,
        key: "tcp-1",
        token: "s3cret",
      });
      assert.equal(ok.added, 6);
      assertSameTree(disk, await snapshotOf(f.cache, "tcp-1"), f.src);
      for (const token of ["wrong", undefined]) {
        await assert.rejects(
          pushTree(await connectSession("127.0.0.1", listener.port), {
            fs: disk,
            root: f.src,
            key: "tcp-2",
            ...(token ? { token } : {}),
          }),
          (err: unknown) => err instanceof FSCacheError && err.code === "ERR_AUTH",
        );
      }
      assert.equal(await f.cache.get("tcp-2"), undefined, "nothing cached for a refused session");
    } finally {
      await listener.close();
    }
  });

  it("refuses an unknown session version and a non-hello first frame", async () => {
    await using f = await sessionFixture();
    for (const [hello, code] of [
      [{ v: 99, type: "hello", key: "k" }, "ERR_VERSION"],
      [{ v: 1, type: "hi", key: "k" }, "ERR_PROTOCOL"],
      [{ v: 1, type: "hello", key: "" }, "ERR_INVALID_KEY"],
    ] as const) {
      const [client, server] = memoryPipe();
      const serving = f.server.handle(server);
      const writer = client.writable.getWriter();
      await writer.write(controlFrame(hello));
      const reply = parseControl((await new FrameReader(client.readable).next()) as Uint8Array);
      assert.equal(reply.type, "error");
      assert.equal(reply.code, code);
      const outcome = await serving;
      assert.equal(outcome.ok, false);
    }
  });

  it("a file that changed while it was sent: pushed once more on a new connection; changed again, ERR_SOURCE_CHANGED", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, tree);
    // The walk is told a smaller size for dir/b.bin, as if it grew after its lstat, in
    // the first `lies` walks.
    let lies = 0;
    const fs: FileSystem = {
      ...disk,
      lstatSync: ((path: string) => {
        const st = disk.lstatSync(path);
        if (!path.endsWith("dir/b.bin") || lies === 0) return st;
        lies--;
        return Object.assign(Object.create(Object.getPrototypeOf(st)), st, { size: 100 });
      }) as FileSystem["lstatSync"],
    };
    const push = async (key: string) => {
      const outcomes: Promise<{ ok: boolean }>[] = [];
      const retries: string[] = [];
      const connect = async () => {
        const [client, server] = memoryPipe();
        outcomes.push(f.server.handle(server));
        return client;
      };
      const result = pushTree(connect, { fs, root: f.src, key, onRetry: (err) => retries.push(err.code) });
      const settled = await result.then(
        (r) => r,
        (err: FSCacheError) => err,
      );
      return { settled, retries, outcomes: (await Promise.all(outcomes)).map((o) => o.ok) };
    };

    lies = 1;
    const once = await push("k1");
    assert.deepEqual([once.retries, once.outcomes], [["ERR_SOURCE_CHANGED"], [false, true]]);
    const snap = await snapshotOf(f.cache, "k1");
    assertSameTree(disk, snap, f.src);

    lies = 2;
    const twice = await push("k2");
    assert.deepEqual([twice.retries, twice.outcomes], [["ERR_SOURCE_CHANGED"], [false, false]]);
    assert.ok(twice.settled instanceof FSCacheError);
    assert.equal(twice.settled.code, "ERR_SOURCE_CHANGED", "the client's own error, not the server's echo");
    assert.equal(twice.settled.path, "dir/b.bin");

    // A connection given as such is not made again.
    lies = 1;
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    await assert.rejects(pushTree(client, { fs, root: f.src, key: "k3" }), { code: "ERR_SOURCE_CHANGED" });
    assert.equal((await serving).ok, false);
    // The cache is as usable as before: the key is pushed again, whole.
    const again = await push("k3");
    assert.ok(!(again.settled instanceof FSCacheError));
    assert.deepEqual(again.outcomes, [true]);
    assertSameTree(disk, await snapshotOf(f.cache, "k3"), f.src);
  });

  it("two clients pushing one key at once: one transfer, the other is told reused", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, { "big.bin": "z".repeat(2_000_000), "small.txt": "s" });
    const listener = await listenSessions(f.server, "127.0.0.1", 0);
    try {
      const both = await Promise.all(
        [0, 1].map(async () =>
          pushTree(await connectSession("127.0.0.1", listener.port), { fs: disk, root: f.src, key: "same" }),
        ),
      );
      const [a, b] = both as [(typeof both)[0], (typeof both)[0]];
      assert.deepEqual([a.reused, b.reused].sort(), [false, true]);
      assert.equal(a.bytesSent + b.bytesSent, 2_000_001, "the tree moved once");
      assert.equal(a.checksum, b.checksum);
    } finally {
      await listener.close();
    }
  });
});
