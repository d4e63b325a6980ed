/**
 * How the diff-copy sender reads the files it is asked for: once each when a file is as
 * the walk saw it, and to its real end when it changed size after the walk (the
 * receiver then sees the sizes differ, as with BuildKit's fsutil).
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import type { FileSystem } from "../core/file_system.ts";
import { packetChannel } from "../transports/diffcopy/framing.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { PacketType, packet } from "../transports/diffcopy/packet.ts";
import { sendDiffCopy } from "../transports/diffcopy/sender.ts";
import { assertSameTree, disk, pipeSync, tempDir } from "./_diffcopy.ts";

const CHUNK = 32 * 1024;

/** `disk`, counting the reads made through each descriptor by the path it was opened with. */
function countingDisk(): { fs: FileSystem; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const paths = new Map<number, string>();
  const fs: FileSystem = {
    ...disk,
    openSync: ((path: string, ...rest: unknown[]) => {
      const fd = (disk.openSync as (...args: unknown[]) => number)(path, ...rest);
      paths.set(fd, path);
      return fd;
    }) as FileSystem["openSync"],
    readSync: ((fd: number, ...rest: unknown[]) => {
      const path = paths.get(fd) as string;
      reads.set(path, (reads.get(path) ?? 0) + 1);
      return (disk.readSync as (...args: unknown[]) => number)(fd, ...rest);
    }) as FileSystem["readSync"],
  };
  return { fs, reads };
}

describe("diff-copy sender reads", () => {
  it("reads a file once unless its size is a whole number of chunks, and the copy is whole", async () => {
    using src = tempDir();
    using dest = tempDir();
    // bytes -> reads: each chunk, plus one that finds the end only after whole chunks
    const sizes: Record<string, [size: number, reads: number]> = {
      one: [1, 1],
      small: [100, 1],
      "chunk-less-one": [CHUNK - 1, 1],
      chunk: [CHUNK, 2],
      "chunk-and-one": [CHUNK + 1, 2],
      "two-and-a-bit": [2 * CHUNK + 4464, 3],
    };
    for (const [name, [size]] of Object.entries(sizes)) {
      nodeFs.writeFileSync(
        `${src.dir}/${name}`,
        new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff),
      );
    }
    const { fs, reads } = countingDisk();
    const { sent } = await pipeSync({ fs, root: src.dir }, { fs: disk, dest: dest.dir });
    assertSameTree(disk, dest.dir, src.dir);
    const total = Object.values(sizes).reduce((sum, [size]) => sum + size, 0);
    assert.equal(sent.bytesSent, total);
    for (const [name, [, expected]] of Object.entries(sizes)) {
      assert.equal(reads.get(`${src.dir}/${name}`), expected, name);
    }
  });

  it("sends a file that grew or shrank after the walk as it is, to its end", async () => {
    using src = tempDir();
    nodeFs.writeFileSync(`${src.dir}/grew`, "0123456789"); // the walk is told 6 bytes
    nodeFs.writeFileSync(`${src.dir}/shrank`, "0123"); // the walk is told 9 bytes
    const told: Record<string, number> = { [`${src.dir}/grew`]: 6, [`${src.dir}/shrank`]: 9 };
    const fs: FileSystem = {
      ...disk,
      lstatSync: ((path: string) => {
        const st = disk.lstatSync(path);
        const size = told[path];
        return size === undefined ? st : Object.assign(Object.create(Object.getPrototypeOf(st)), st, { size });
      }) as FileSystem["lstatSync"],
    };
    const data = new Map<number, number>();
    // A receiver that asks for every file and counts what comes, then ends as fsutil's does.
    const [a, b] = memoryPipe();
    const receiving = (async () => {
      const { reader, writer } = packetChannel(b);
      const paths: string[] = [];
      for (;;) {
        const p = await reader.next();
        assert.equal(p?.type, PacketType.STAT);
        if (!p.stat) break;
        paths.push(p.stat.path);
      }
      const files = paths.map((_, id) => id);
      for (const id of files) await writer.send(packet(PacketType.REQ, { id }));
      for (let open = files.length; open > 0; ) {
        const p = await reader.next();
        assert.equal(p?.type, PacketType.DATA);
        if (p.data.length === 0) open--;
        else data.set(p.id, (data.get(p.id) ?? 0) + p.data.length);
      }
      await writer.send(packet(PacketType.FIN));
      assert.equal((await reader.next())?.type, PacketType.FIN);
      await writer.close();
      return paths;
    })();
    const [sent, paths] = await Promise.all([sendDiffCopy(a, { fs, root: src.dir }), receiving]);
    assert.deepEqual(paths, ["grew", "shrank"]);
    assert.equal(data.get(0), 10, "all of a file that grew");
    assert.equal(data.get(1), 4, "what is left of a file that shrank");
    assert.equal(sent.bytesSent, 14);
  });
});
