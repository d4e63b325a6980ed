/** A connection dropped in the middle of a file fails the receive cleanly; the next push repairs the tree. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { sendDiffCopy } from "../transports/diffcopy/sender.ts";
import { assertSameTree, disk, pipeSync, recordingUpdater, tempDir, writeTree } from "./_diffcopy.ts";

/** Passes `limit` bytes through, then fails the stream as a dropped connection would. */
function cutAfter(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let passed = 0;
  return new TransformStream({
    transform(chunk, controller) {
      if (passed + chunk.length > limit) {
        controller.enqueue(chunk.subarray(0, limit - passed));
        controller.error(Object.assign(new Error("connection reset"), { code: "ECONNRESET" }));
        return;
      }
      passed += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

describe("dropped connection mid-file", () => {
  it("rejects, leaves no temporary files, and a re-push makes the tree equal", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    writeTree(disk, src, { "a.txt": "first", "big/": "", "big/blob": "x".repeat(300_000), "z.txt": "last" });
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    disk.writeFileSync(`${src}/big/blob`, "y".repeat(400_000));
    disk.writeFileSync(`${src}/z.txt`, "changed");

    const cut = cutAfter(100_000); // sender → receiver
    const back = new TransformStream<Uint8Array, Uint8Array>(); // receiver → sender, unharmed
    const sending = sendDiffCopy({ readable: back.readable, writable: cut.writable }, { fs: disk, root: src });
    const receiving = receiveDiffCopy(
      { readable: cut.readable, writable: back.writable },
      { dest: dst, fs: disk, updater: recordingUpdater() },
    );
    await assert.rejects(receiving, (err: unknown) => err instanceof FSCacheError && err.code === "ECONNRESET");
    await assert.rejects(sending);
    assert.deepEqual(
      disk.readdirSync(`${dst}/big`).filter((n) => n.startsWith(".fscache-tmp-")),
      [],
      "the half-written file was discarded",
    );
    // the blob was being overwritten in place: removed, so that neither half of the old
    // content nor half of the new is left (the snapshot is stale until the next receive)
    assert.equal(disk.existsSync(`${dst}/big/blob`), false, "the file cut short was removed");

    const repair = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assertSameTree(disk, dst, src, disk);
    // the blob cut short moves again; a file finished before the cut (z.txt, maybe) does not
    assert.ok(repair.sent.bytesSent >= 400_000 && repair.sent.bytesSent <= 400_007, String(repair.sent.bytesSent));
    assert.ok(repair.updater.changes.some((c) => c.path === "big/blob" && c.kind === "add"));
  });
});
