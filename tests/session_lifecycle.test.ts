/** Sessions cut short: a dropped connection then a repairing re-push, and graceful or aborting shutdown. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import type { DiffCopyConnection } from "../transports/diffcopy/framing.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { pushTree } from "../transports/session/client.ts";
import { assertSameTree, disk, writeTree } from "./_diffcopy.ts";
import { deferred } from "./_helpers.ts";
import { sessionFixture, snapshotOf } from "./_session.ts";

/**
 * A client end whose outgoing bytes pass freely up to `limit`, then either fail (a
 * dropped connection) or wait for `gate` (a slow one).
 */
function throttled(
  client: DiffCopyConnection,
  limit: number,
  mode: { drop: true } | { gate: Promise<void>; reached?: () => void },
): DiffCopyConnection {
  let passed = 0;
  const t = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      if (passed + chunk.length > limit) {
        if ("drop" in mode) {
          controller.enqueue(chunk.subarray(0, Math.max(0, limit - passed)));
          passed = limit;
          controller.error(Object.assign(new Error("connection reset"), { code: "ECONNRESET" }));
          return;
        }
        mode.reached?.();
        await mode.gate;
      }
      passed += chunk.length;
      controller.enqueue(chunk);
    },
  });
  t.readable.pipeTo(client.writable).catch(() => undefined);
  return { readable: client.readable, writable: t.writable };
}

describe("push sessions cut short", () => {
  it("a connection dropped mid-file fails both ends; re-pushing the same key repairs the snapshot", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, { "a.txt": "a", "big/": "", "big/blob": "x".repeat(400_000), "z.txt": "z" });
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    const pushing = pushTree(throttled(client, 150_000, { drop: true }), { fs: disk, root: f.src, key: "k" });
    await assert.rejects(pushing);
    const outcome = await serving;
    assert.equal(outcome.ok, false);
    assert.equal(await f.cache.get("k"), undefined, "a failed transfer leaves nothing usable under the key");
    const stale = (await f.cache.sources()).find((s) => s.key === "k");
    assert.equal(stale?.stale, true);

    const [client2, server2] = memoryPipe();
    const serving2 = f.server.handle(server2);
    const repaired = await pushTree(client2, { fs: disk, root: f.src, key: "k" });
    assert.equal((await serving2).ok, true);
    assert.equal(repaired.reused, false);
    assertSameTree(disk, await snapshotOf(f.cache, "k"), f.src);
  });

  it("a client that sends no hello in time gets ERR_TIMEOUT, and its session ends", async () => {
    await using f = await sessionFixture({ helloTimeoutMs: 100 });
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    // Part of a frame header, then nothing (the pipe's write settles once the server reads it).
    void client.writable.getWriter().write(new Uint8Array([0, 0]));
    const heard = readAll(client.readable);
    const outcome = await serving;
    assert.equal(outcome.ok, false);
    assert.equal(outcome.ok ? "" : outcome.error.code, "ERR_TIMEOUT");
    assert.equal(f.server.active, 0);
    assert.match(await heard, /"code":"ERR_TIMEOUT"/, "the client is told why");
  });

  it("a session whose client stops reading still ends (its last writes are not waited on for ever)", async () => {
    await using f = await sessionFixture({ helloTimeoutMs: 100 });
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    void client.writable.getWriter().write(new Uint8Array([0, 0]));
    const outcome = await serving; // nobody reads the error frame
    assert.equal(outcome.ok ? "" : outcome.error.code, "ERR_TIMEOUT");
  });

  it("a client that stalls mid-push without closing is aborted after the idle timeout; a re-push repairs", async () => {
    await using f = await sessionFixture({ idleTimeoutMs: 300 });
    writeTree(disk, f.src, { "blob.bin": "z".repeat(400_000) });
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    const stalled = throttled(client, 100_000, { gate: new Promise<void>(() => undefined) });
    const pushing = pushTree(stalled, { fs: disk, root: f.src, key: "s" });
    pushing.catch(() => undefined);
    const outcome = await serving;
    assert.equal(outcome.ok ? "" : outcome.error.code, "ERR_TIMEOUT");
    assert.equal(await f.cache.get("s"), undefined, "nothing usable under the key");
    const [client2, server2] = memoryPipe();
    const serving2 = f.server.handle(server2);
    await pushTree(client2, { fs: disk, root: f.src, key: "s" });
    assert.equal((await serving2).ok, true);
    assertSameTree(disk, await snapshotOf(f.cache, "s"), f.src);
  });

  it("close() stops new sessions and lets the one in progress finish", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, { "blob.bin": "y".repeat(500_000) });
    const gate = deferred();
    const reached = deferred();
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    const slow = throttled(client, 100_000, { gate: gate.promise, reached: reached.resolve });
    const pushing = pushTree(slow, { fs: disk, root: f.src, key: "g" });
    await reached.promise; // mid-transfer
    const closing = f.server.close({ graceMs: 60_000 });
    const [late, lateServer] = memoryPipe();
    const lateServing = f.server.handle(lateServer);
    await assert.rejects(
      pushTree(late, { fs: disk, root: f.src, key: "late" }),
      (err: unknown) => err instanceof FSCacheError && err.code === "ERR_CLOSED",
    );
    assert.equal((await lateServing).ok, false);
    gate.resolve();
    const result = await pushing;
    assert.equal(result.bytesSent, 500_000);
    assert.equal((await serving).ok, true);
    await closing;
    assert.equal(f.server.active, 0);
    assertSameTree(disk, await snapshotOf(f.cache, "g"), f.src);
  });

  it("close({ abort: true }) aborts sessions in progress; the cache closes cleanly", async () => {
    await using f = await sessionFixture();
    writeTree(disk, f.src, { "blob.bin": "y".repeat(500_000) });
    const [client, server] = memoryPipe();
    const serving = f.server.handle(server);
    const gate = deferred();
    const reached = deferred();
    const slow = throttled(client, 100_000, { gate: gate.promise, reached: reached.resolve });
    const pushing = pushTree(slow, { fs: disk, root: f.src, key: "a" });
    await reached.promise;
    await f.server.close({ abort: true });
    const outcome = await serving;
    assert.equal(outcome.ok, false);
    assert.equal(outcome.ok ? "" : outcome.error.code, "ERR_ABORTED");
    gate.resolve();
    await assert.rejects(pushing);
    assert.equal(await f.cache.get("a"), undefined);
    await f.cache.close();
  });
});

/** Everything `readable` gives until it ends or fails, as text. */
async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
  const reader = readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return text;
  }
}
