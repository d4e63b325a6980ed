/** The session connection's stall watch: a read that waits while nothing moves either way. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { watchIdle } from "../transports/session/idle_watch.ts";
import { sleep } from "./_helpers.ts";

/** The near end of a memory pipe watched with `ms`, its reader, the far end, and a count of firings. */
function watchedPipe(ms: number) {
  const [near, far] = memoryPipe();
  const count = { fired: 0 };
  const watched = watchIdle(near, ms, () => count.fired++);
  return { watched, reader: watched.readable.getReader(), far, count };
}

describe("watchIdle", () => {
  it("fires once when a read has waited with nothing moving, not while bytes go out", async () => {
    const { watched, reader, far, count } = watchedPipe(200);
    const pending = reader.read();
    // Bytes going out every 50 ms (a pull's client says nothing while it receives).
    const farReader = far.readable.getReader();
    const writer = watched.writable.getWriter();
    for (let i = 0; i < 12; i++) {
      await Promise.all([writer.write(new Uint8Array([i])), farReader.read()]);
      await sleep(50);
    }
    assert.equal(count.fired, 0, "600 ms of writes kept it quiet");
    await sleep(400);
    assert.equal(count.fired, 1, "200 ms of nothing either way");
    await sleep(300);
    assert.equal(count.fired, 1, "once only");
    // The read still completes when the peer speaks at last.
    await far.writable.getWriter().write(new Uint8Array([7]));
    assert.deepEqual((await pending).value, new Uint8Array([7]));
    await reader.cancel();
  });

  it("does not fire while each read is answered within the limit, however long that goes on", async () => {
    const { reader, far, count } = watchedPipe(120);
    const writer = far.writable.getWriter();
    for (let i = 0; i < 10; i++) {
      const pending = reader.read();
      await sleep(50);
      await writer.write(new Uint8Array([i]));
      assert.deepEqual((await pending).value, new Uint8Array([i]));
    }
    assert.equal(count.fired, 0, "500 ms of reads answered every 50 ms");
    await reader.cancel();
  });

  it("gives a read that starts after a busy spell its whole limit", async () => {
    const { reader, far, count } = watchedPipe(150);
    // The session does its own work for longer than the limit, reading nothing.
    await sleep(300);
    const pending = reader.read();
    await sleep(80);
    assert.equal(count.fired, 0, "the read has waited 80 of its 150 ms");
    await sleep(200);
    assert.equal(count.fired, 1, "and then the whole limit");
    await far.writable.getWriter().write(new Uint8Array([1]));
    assert.deepEqual((await pending).value, new Uint8Array([1]));
    await reader.cancel();
  });

  it("does not fire while nothing is being read (the session is busy, not waiting)", async () => {
    const [near] = memoryPipe();
    let fired = 0;
    watchIdle(near, 50, () => fired++);
    await sleep(200);
    assert.equal(fired, 0);
  });
});
