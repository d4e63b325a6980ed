/**
 * How the diff-copy sender reads the files it is asked for: once each when a file is as
 * the walk saw it; a file that changed size or vanished after the walk, or cannot be
 * opened, fails the send with an error naming it, to the caller and to the receiver.
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import type { FSCacheError } from "../core/errors.ts";
import type { FileSystem } from "../core/file_system.ts";
import type { DiffCopyConnection } from "../transports/diffcopy/framing.ts";
import { packetChannel } from "../transports/diffcopy/framing.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { PacketType, packet } from "../transports/diffcopy/packet.ts";
import { isSourceFailure, sendDiffCopy } from "../transports/diffcopy/sender.ts";
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

/**
 * A receiver that asks for every file once the entry list is in, `edit` having run just
 * before: the DATA bytes it got per id, and the text of the ERR that ended the send.
 */
async function receiveAll(
  connection: DiffCopyConnection,
  edit: () => void,
): Promise<{ data: Map<number, number>; error: string | undefined }> {
  const { reader, writer } = packetChannel(connection);
  let files = 0;
  for (let p = await reader.next(); p?.stat; p = await reader.next()) files++;
  edit();
  for (let id = 0; id < files; id++) await writer.send(packet(PacketType.REQ, { id }));
  const data = new Map<number, number>();
  for (;;) {
    const p = await reader.next();
    if (p?.type === PacketType.ERR) return { data, error: new TextDecoder().decode(p.data) };
    assert.equal(p?.type, PacketType.DATA);
    if (p.data.length > 0) data.set(p.id, (data.get(p.id) ?? 0) + p.data.length);
  }
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

  it("fails with ERR_SOURCE_CHANGED for a file that grew, shrank or vanished after the walk, sending no byte past its STAT", async () => {
    const edits: Record<string, [edit: (file: string) => void, why: RegExp]> = {
      grew: [(file) => nodeFs.appendFileSync(file, "more"), /it grew past the 10 bytes walked/],
      shrank: [(file) => nodeFs.truncateSync(file, 2), /it shrank to 2 of the 10 bytes walked/],
      vanished: [(file) => nodeFs.unlinkSync(file), /it vanished/],
    };
    for (const [name, [edit, why]] of Object.entries(edits)) {
      using src = tempDir();
      nodeFs.writeFileSync(`${src.dir}/a`, "0123456789");
      nodeFs.writeFileSync(`${src.dir}/b`, "0123456789");
      const [a, b] = memoryPipe();
      const receiving = receiveAll(b, () => edit(`${src.dir}/b`));
      const sending = sendDiffCopy(a, { fs: disk, root: src.dir });
      await assert.rejects(sending, (err: FSCacheError) => {
        assert.equal(err.code, "ERR_SOURCE_CHANGED", name);
        assert.equal(err.path, "b");
        assert.match(err.message, /^source file changed while it was sent: b \(/);
        assert.match(err.message, why);
        assert.ok(isSourceFailure(err));
        return true;
      });
      const { data, error } = await receiving;
      assert.equal(data.get(0), 10, `${name}: the file before it, whole`);
      assert.equal(data.get(1), name === "shrank" ? 2 : undefined, `${name}: no byte past the 10 walked`);
      assert.match(error ?? "", /source file changed while it was sent: b/, name);
    }
  });

  it("fails with the code and path of a file it cannot open, and tells the receiver", async () => {
    using src = tempDir();
    nodeFs.writeFileSync(`${src.dir}/locked`, "secret");
    const fs: FileSystem = {
      ...disk,
      openSync: ((path: string, ...rest: unknown[]) => {
        if (path.endsWith("/locked")) {
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES", path });
        }
        return (disk.openSync as (...args: unknown[]) => number)(path, ...rest);
      }) as FileSystem["openSync"],
    };
    const [a, b] = memoryPipe();
    const receiving = receiveAll(b, () => undefined);
    await assert.rejects(sendDiffCopy(a, { fs, root: src.dir }), (err: FSCacheError) => {
      assert.equal(err.code, "EACCES");
      assert.equal(err.path, `${src.dir}/locked`);
      assert.ok(isSourceFailure(err));
      return true;
    });
    assert.match((await receiving).error ?? "", /EACCES: permission denied, open '.*\/locked'/);
  });
});
