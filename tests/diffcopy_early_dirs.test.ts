/**
 * `earlyDirs`: a receiver into a cache snapshot makes new directories while the entry
 * list still arrives; otherwise nothing touches the destination before the list ends.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PacketReader } from "../transports/diffcopy/framing.ts";
import { PacketType } from "../transports/diffcopy/packet.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { assertSameTree, disk, pipeSync, recordingUpdater, tempDir, writeTree } from "./_diffcopy.ts";
import { DATA, DIR, END, FIN, runHostile, S } from "./_hostile.ts";

/** Polls until `check` holds or `ms` pass; answers whether it held. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (check()) return true;
  return check();
}

describe("diff-copy receiver: directories made early", () => {
  it("makes new directories while the entry list still arrives only with earlyDirs", async () => {
    for (const earlyDirs of [true, false]) {
      using tmp = tempDir();
      const dest = `${tmp.dir}/dest`;
      disk.mkdirSync(dest);
      const toReceiver = new TransformStream<Uint8Array, Uint8Array>();
      const fromReceiver = new TransformStream<Uint8Array, Uint8Array>();
      const send = toReceiver.writable.getWriter();
      const replies = new PacketReader(fromReceiver.readable);
      const receiving = receiveDiffCopy(
        { readable: toReceiver.readable, writable: fromReceiver.writable },
        { dest, fs: disk, updater: recordingUpdater() },
        { earlyDirs },
      );
      for (const p of [S("a", { mode: DIR }), S("a/b", { mode: DIR }), S("a/b/f", { size: 2 })]) {
        void send.write(encodeFrame(p));
      }
      const made = await within(earlyDirs ? 2000 : 300, () => disk.existsSync(`${dest}/a/b`));
      assert.equal(made, earlyDirs, `earlyDirs ${earlyDirs}: a/b made before the list ended`);
      assert.equal(disk.existsSync(`${dest}/a/b/f`), false, "files wait for their DATA");
      void send.write(encodeFrame(END));
      const req = await replies.next();
      assert.equal(req?.type, PacketType.REQ);
      assert.equal(req?.id, 2);
      for (const p of [DATA(2, "hi"), DATA(2)]) void send.write(encodeFrame(p));
      assert.equal((await replies.next())?.type, PacketType.FIN);
      void send.write(encodeFrame(FIN));
      const result = await receiving;
      assert.equal(result.added, 3);
      assert.equal(new TextDecoder().decode(disk.readFileSync(`${dest}/a/b/f`)), "hi");
      assert.ok(disk.statSync(`${dest}/a/b`).isDirectory());
    }
  });

  it("a rejected entry list leaves the destination as it was, or with only the new directories when early", async () => {
    const stream = [S("a", { mode: DIR }), S("a/b", { mode: DIR }), S("c", { size: 1 }), S("d", { size: 1 }), END];
    for (const earlyDirs of [false, true]) {
      using tmp = tempDir();
      const dest = `${tmp.dir}/dest`;
      disk.mkdirSync(dest);
      const { error } = await runHostile(disk, dest, stream, { maxEntries: 3, earlyDirs });
      assert.equal((error as { code?: string }).code, "ERR_LIMIT");
      assert.deepEqual(disk.readdirSync(dest), earlyDirs ? ["a"] : []);
      if (earlyDirs) assert.deepEqual(disk.readdirSync(`${dest}/a`), ["b"]);
    }
  });

  it("waits where something must go first: a file that becomes a directory, a directory that stays", async () => {
    for (const earlyDirs of [true, false]) {
      using tmp = tempDir();
      const src = `${tmp.dir}/src`;
      const dst = `${tmp.dir}/dst`;
      disk.mkdirSync(src);
      disk.mkdirSync(dst);
      writeTree(disk, dst, { x: "old file", "d/": "", "d/old": "o", "keep/": "", "gone/": "", "gone/g": "g" });
      writeTree(disk, src, {
        "x/": "",
        "x/y/": "",
        "x/y/f": "new",
        "d/": "",
        "d/n/": "",
        "d/n/f": "n",
        "keep/": "",
        "keep/sub/": "",
        "keep/sub/deep/": "",
      });
      const { received } = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst }, { earlyDirs });
      assertSameTree(disk, dst, src, disk);
      assert.equal(received.deleted, 2, "d/old and gone (with what it held)");
      assert.equal(received.modified, 1, "x, a file before");
    }
  });
});
