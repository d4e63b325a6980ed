/**
 * `earlyDirs`: a receiver into a cache snapshot makes new directories while the entry
 * list still arrives; otherwise nothing touches the destination before the list ends.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ReceivedDirBatch, WriteThreads } from "../transports/diffcopy/file_batches.ts";
import { PacketReader } from "../transports/diffcopy/framing.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { PacketType } from "../transports/diffcopy/packet.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { sendDiffCopy } from "../transports/diffcopy/sender.ts";
import { diskWriteThreads } from "../transports/local/diffcopy_threads.ts";
import { assertSameTree, disk, pipeSync, recordingUpdater, tempDir, writeTree } from "./_diffcopy.ts";
import { pollUntil } from "./_helpers.ts";
import { DATA, DIR, END, FIN, runHostile, S } from "./_hostile.ts";

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
      const made = await pollUntil(earlyDirs ? 2000 : 300, () => disk.existsSync(`${dest}/a/b`));
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

/**
 * A source of 60 top directories of 3 each, a file in each of those, some modes of their
 * own; answers how many entries it holds.
 */
function manyDirs(root: string): number {
  let count = 0;
  for (let t = 0; t < 60; t++) {
    const top = `${root}/d${String(t).padStart(3, "0")}`;
    for (let s = 0; s < 3; s++) {
      disk.mkdirSync(`${top}/s${s}`, { recursive: true });
      disk.writeFileSync(`${top}/s${s}/f.txt`, `${t}/${s}`);
      count += 2;
    }
    count++;
  }
  // modes a receive keeps open to its owner while it writes, and sets at the end
  disk.chmodSync(`${root}/d010/s1`, 0o750);
  disk.chmodSync(`${root}/d020/s2`, 0o711);
  disk.chmodSync(`${root}/d029`, 0o555);
  disk.chmodSync(`${root}/d029/s0`, 0o555);
  disk.chmodSync(`${root}/d029/s0/f.txt`, 0o444);
  return count;
}

/** Mtimes of every directory below `root`, by path. */
function dirTimes(root: string, rel = "", out = new Map<string, number>()): Map<string, number> {
  for (const name of disk.readdirSync(rel ? `${root}/${rel}` : root)) {
    const path = rel ? `${rel}/${name}` : name;
    const st = disk.lstatSync(`${root}/${path}`);
    if (!st.isDirectory()) continue;
    out.set(path, Math.floor(st.mtimeMs));
    dirTimes(root, path, out);
  }
  return out;
}

describe("diff-copy receiver: directories made early by a writing thread", () => {
  it("makes most new directories on a writing thread, parents first, with the modes and times of the source", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dest = `${tmp.dir}/dest`;
    const entries = manyDirs(src);
    const dirs = 240;
    disk.mkdirSync(dest);
    const threads = diskWriteThreads(2);
    const sent: ReceivedDirBatch[] = [];
    const makeDirs = threads.makeDirs?.bind(threads);
    assert.ok(makeDirs, "disk write threads make directories");
    threads.makeDirs = (batch) => {
      sent.push(batch);
      return makeDirs(batch);
    };
    try {
      const { received } = await pipeSync(
        { fs: disk, root: src },
        { fs: disk, dest },
        { earlyDirs: true, writeThreads: threads },
      );
      assert.equal(received.added, entries);
      assertSameTree(disk, dest, src);
      assert.deepEqual(dirTimes(dest), dirTimes(src));
      const onThread = sent.flatMap((b) => b.paths);
      assert.ok(onThread.length >= dirs / 2, `${onThread.length} of ${dirs} made on the thread`);
      // each one's parent was made before it: the top level, or an earlier path
      for (const [i, path] of onThread.entries()) {
        const parent = path.slice(0, path.lastIndexOf("/"));
        assert.ok(!path.includes("/") || !onThread.slice(i).includes(parent), `${path} before its parent`);
      }
    } finally {
      await threads.close();
    }
  });

  it("fails the receive when the thread fails, once every batch sent has settled", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    manyDirs(src);
    disk.mkdirSync(`${tmp.dir}/dest`);
    let calls = 0;
    let settled = 0;
    const failing: WriteThreads = {
      lanes: 1,
      accepts: () => true,
      write: () => Promise.reject(new Error("no file gets this far")),
      makeDirs: async () => {
        calls++;
        await sleep(20);
        settled++;
        throw Object.assign(new Error("disk on fire"), { code: "EIO" });
      },
    };
    const [a, b] = memoryPipe();
    const [, received] = await Promise.allSettled([
      sendDiffCopy(a, { fs: disk, root: src }),
      receiveDiffCopy(
        b,
        { dest: `${tmp.dir}/dest`, fs: disk, updater: recordingUpdater() },
        { earlyDirs: true, writeThreads: failing },
      ),
    ]);
    assert.equal(received.status, "rejected");
    assert.equal((received as PromiseRejectedResult).reason.code, "EIO");
    assert.ok(calls > 0);
    assert.equal(settled, calls, "every batch sent had settled when the receive failed");
  });

  it("a list rejected after directories went to the thread: nothing made after the receive ends, nothing outside", async () => {
    using tmp = tempDir();
    const dest = `${tmp.dir}/dest`;
    disk.mkdirSync(dest);
    const stream = [];
    for (let t = 0; t < 200; t++) stream.push(S(`d${String(t).padStart(3, "0")}`, { mode: DIR }));
    stream.push(S("d000/late", { mode: DIR }), END);
    const threads = diskWriteThreads(2);
    try {
      const { error, replies } = await runHostile(disk, dest, stream, { earlyDirs: true, writeThreads: threads });
      assert.equal((error as { code?: string }).code, "ERR_PROTOCOL");
      assert.ok(replies.some((p) => p.type === PacketType.ERR));
      const made = disk.readdirSync(dest).sort();
      assert.deepEqual(
        made,
        stream.slice(0, 200).map((p) => p.stat?.path),
      );
      await sleep(50);
      assert.equal(disk.readdirSync(dest).length, made.length);
      assert.deepEqual(disk.readdirSync(tmp.dir), ["dest"]);
    } finally {
      await threads.close();
    }
  });
});
