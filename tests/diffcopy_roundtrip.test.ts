/** Diff-copy round trips over in-memory streams: equal trees, checksums, and only changes moving. */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import { Volume } from "memfs";
import { fileSystemFrom } from "../core/file_system.ts";
import type { EntryStat, RecordedTree } from "../core/types.ts";
import { assertSameTree, disk, pipeSync, scanChecksums, tempDir, writeTree } from "./_diffcopy.ts";
import { REWRITE_BYTES, REWRITES, recordingWrites } from "./_local_helpers.ts";

const sample = {
  "a.txt": "hello",
  "dir/": "",
  "dir/b.bin": "x".repeat(100_000),
  "dir/empty": "",
  "dir/sub/": "",
  "dir/sub/c": { content: "run me", mode: 0o755 },
  "foo.2": "two",
  "foo/": "",
  "foo/a": "in foo",
  foo0: "zero",
  link: { symlink: "a.txt" },
  dangling: { symlink: "/nowhere/at/all" },
  hard: { link: "a.txt" },
} as const;

/** The tree a cache would record from a receive's reported changes (all adds). */
function recordOf(changes: { path: string; checksum?: string; stat?: EntryStat }[]): RecordedTree {
  const recorded = new Map(changes.map((c) => [c.path, { checksum: c.checksum as string, stat: c.stat }]));
  return {
    size: recorded.size,
    get: (p: string) => recorded.get(p),
    entries: () => [...recorded].sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

describe("diff-copy round trip (in-memory streams)", () => {
  it("makes the destination equal to the source, with modes, mtimes, links and checksums", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    writeTree(disk, src, sample);
    // Links with times of their own, which the receiver sets on the links themselves.
    nodeFs.lutimesSync(`${src}/link`, 1_500_000_000.25, 1_500_000_000.25);
    nodeFs.lutimesSync(`${src}/dangling`, 1_400_000_000, 1_400_000_000);
    const { sent, received, updater } = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assertSameTree(disk, dst, src, disk);
    for (const link of ["link", "dangling"]) {
      const [want, got] = [nodeFs.lstatSync(`${src}/${link}`).mtimeMs, nodeFs.lstatSync(`${dst}/${link}`).mtimeMs];
      assert.ok(Math.abs(want - got) < 1, `${link}: mtime ${got}, not ${want}`);
    }
    assert.equal(disk.lstatSync(`${dst}/hard`).ino, disk.lstatSync(`${dst}/a.txt`).ino, "hard link preserved");
    assert.equal(updater.supported, true);
    // every entry reported once, with the checksum a rescan of the destination gives
    const scanned = scanChecksums(disk, dst);
    const reported = new Map(updater.changes.map((c) => [c.path, c.checksum]));
    assert.deepEqual(new Map([...reported].sort()), new Map([...scanned].sort()));
    assert.ok(updater.changes.every((c) => c.kind === "add" && c.stat !== undefined));
    assert.equal(sent.filesSent, 7);
    assert.equal(received.bytesReceived, sent.bytesSent);
    assert.equal(sent.bytesSent, 5 + 100_000 + 6 + 3 + 6 + 4);
  });

  it("whole blocks of zeros are left as holes, in new files and in files rewritten in place, with none of their old data", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    const MiB = 1024 * 1024;
    const fd = nodeFs.openSync(`${src}/disk.img`, "w");
    nodeFs.writeSync(fd, "header", 0);
    nodeFs.writeSync(fd, "middle", 3 * MiB + 5);
    nodeFs.ftruncateSync(fd, 8 * MiB);
    nodeFs.closeSync(fd);
    nodeFs.writeFileSync(`${src}/dense.bin`, new Uint8Array(256 * 1024).fill(9));
    const { updater } = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assertSameTree(disk, dst, src, disk);
    const allocated = (path: string) => nodeFs.statSync(path).blocks * 512;
    assert.ok(allocated(`${dst}/disk.img`) < MiB, `${allocated(`${dst}/disk.img`)} bytes allocated`);
    assert.ok(allocated(`${dst}/dense.bin`) >= 256 * 1024);
    assert.deepEqual(new Map(updater.changes.map((c) => [c.path, c.checksum])), scanChecksums(disk, dst));
    // Zeros where the received file had data: rewritten in place, it reads back as zeros
    // and holds no block of its old data.
    const denseIno = nodeFs.statSync(`${dst}/dense.bin`).ino;
    const zeros = new Uint8Array(256 * 1024);
    zeros.set([1, 2, 3], 100_000);
    nodeFs.writeFileSync(`${src}/dense.bin`, zeros);
    nodeFs.utimesSync(`${src}/dense.bin`, 1_700_000_000, 1_700_000_000);
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assertSameTree(disk, dst, src, disk);
    assert.equal(nodeFs.statSync(`${dst}/dense.bin`).ino, denseIno, "rewritten in place");
    assert.ok(allocated(`${dst}/dense.bin`) <= 8192, `${allocated(`${dst}/dense.bin`)} bytes allocated`);
  });

  it("every file of a tree of tiny files arrives, whatever the request window", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    disk.mkdirSync(src);
    // Each window's DATA fits in a few chunks, so it is all buffered before it is read.
    for (let i = 0; i < 700; i++) disk.writeFileSync(`${src}/f${i}`, `${i}`);
    for (const maxFilesInFlight of [undefined, 1, 7]) {
      const dst = `${tmp.dir}/dst-${maxFilesInFlight}`;
      disk.mkdirSync(dst);
      const { received, updater } = await pipeSync(
        { fs: disk, root: src },
        { fs: disk, dest: dst },
        { maxFilesInFlight },
      );
      assert.equal(received.filesReceived, 700, `window ${maxFilesInFlight}`);
      assert.equal(updater.changes.length, 700);
      assertSameTree(disk, dst, src, disk);
    }
  });

  it("re-push of an unchanged tree moves no file data; a changed tree moves only the changes", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    writeTree(disk, src, sample);
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });

    const again = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assert.equal(again.sent.bytesSent, 0);
    assert.equal(again.sent.filesSent, 0);
    assert.deepEqual(again.updater.changes, []);

    disk.writeFileSync(`${src}/dir/sub/c`, "changed!");
    disk.rmSync(`${src}/foo`, { recursive: true });
    disk.writeFileSync(`${src}/foo`, "now a file");
    disk.rmSync(`${src}/foo0`);
    disk.mkdirSync(`${src}/new`);
    disk.writeFileSync(`${src}/new/n`, "new file");
    const third = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assertSameTree(disk, dst, src, disk);
    assert.equal(third.sent.filesSent, 3);
    assert.equal(third.sent.bytesSent, 8 + 10 + 8);
    const kinds = third.updater.changes.map((c) => `${c.kind} ${c.path}`).sort();
    assert.deepEqual(kinds, ["add new", "add new/n", "delete foo/a", "delete foo0", "modify dir/sub/c", "modify foo"]);
  });

  it("uses the recorded tree instead of walking the destination when given", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    writeTree(disk, src, { "a.txt": "one", "b.txt": "two" });
    const first = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    const previous = recordOf(first.updater.changes);
    disk.writeFileSync(`${src}/b.txt`, "TWO!");
    const second = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst, previous });
    assert.equal(second.sent.filesSent, 1);
    assert.deepEqual(
      second.updater.changes.map((c) => `${c.kind} ${c.path}`),
      ["modify b.txt"],
    );
    assertSameTree(disk, dst, src, disk);
  });

  for (const recorded of [true, false]) {
    const against = recorded ? "the recorded tree" : "the destination on disk";
    it(`a hard link the sender has since split into two equal files becomes two files (against ${against})`, async () => {
      using tmp = tempDir();
      const src = `${tmp.dir}/src`;
      const dst = `${tmp.dir}/dst`;
      disk.mkdirSync(src);
      disk.mkdirSync(dst);
      writeTree(disk, src, { "a.txt": "same bytes", "b.txt": { link: "a.txt" } });
      const first = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
      const ino = (path: string) => disk.lstatSync(`${dst}/${path}`).ino;
      assert.equal(ino("b.txt"), ino("a.txt"));
      const previous = recorded ? { previous: recordOf(first.updater.changes) } : {};
      // Unchanged, the link costs nothing to send again.
      const again = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst, ...previous });
      assert.equal(again.sent.bytesSent, 0);
      assert.equal(ino("b.txt"), ino("a.txt"));
      // b.txt becomes a file of its own with the same bytes, mode and mtime.
      const { mtime } = nodeFs.lstatSync(`${src}/b.txt`);
      disk.unlinkSync(`${src}/b.txt`);
      disk.writeFileSync(`${src}/b.txt`, "same bytes");
      nodeFs.chmodSync(`${src}/b.txt`, disk.lstatSync(`${src}/a.txt`).mode & 0o7777);
      nodeFs.utimesSync(`${src}/b.txt`, mtime, mtime);
      const split = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst, ...previous });
      assert.deepEqual(
        split.updater.changes.map((c) => `${c.kind} ${c.path}`),
        ["modify b.txt"],
      );
      assert.notEqual(ino("b.txt"), ino("a.txt"));
      assertSameTree(disk, dst, src, disk);
      disk.writeFileSync(`${dst}/a.txt`, "a alone");
      assert.equal(nodeFs.readFileSync(`${dst}/b.txt`, "utf8"), "same bytes");
    });
  }

  it("creates new files in place, overwrites plain files in place, renames over anything else", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    writeTree(disk, src, { "a.txt": "one", "b.txt": "two, and more", "d/": "", "d/c.txt": "three", "h.txt": "hard" });
    const renames: string[] = [];
    const counting = new Proxy(disk, {
      get(target, name, receiver) {
        if (name === "renameSync") {
          return (from: string, to: string) => {
            renames.push(to.slice(dst.length + 1));
            target.renameSync(from, to);
          };
        }
        return Reflect.get(target, name, receiver);
      },
    });
    const first = await pipeSync({ fs: disk, root: src }, { fs: counting, dest: dst });
    assert.equal(first.received.filesReceived, 4);
    assert.deepEqual(renames, [], "a first receive renames nothing");

    disk.writeFileSync(`${src}/b.txt`, "TWO"); // shorter: the old tail must go
    // A new size: rewritten within the same millisecond, equal size and mtime would look unchanged.
    disk.writeFileSync(`${src}/h.txt`, "HARD, changed");
    disk.writeFileSync(`${src}/s`, "was a link");
    // The record the next receive is given does not know e.txt, but the disk has a leftover there.
    disk.writeFileSync(`${src}/e.txt`, "five");
    const previous = recordOf(first.updater.changes);
    disk.writeFileSync(`${dst}/e.txt`, "stale leftover");
    // h.txt is hard-linked from outside the snapshot, s is a link out of it: neither may be written through
    disk.writeFileSync(`${tmp.dir}/outside`, "keep me");
    disk.rmSync(`${dst}/h.txt`);
    disk.linkSync(`${tmp.dir}/outside`, `${dst}/h.txt`);
    disk.symlinkSync(`${tmp.dir}/outside`, `${dst}/s`);
    const ino = (p: string) => disk.lstatSync(`${dst}/${p}`).ino;
    const before = { b: ino("b.txt"), e: ino("e.txt"), h: ino("h.txt"), s: ino("s") };

    const second = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst, previous });
    assert.deepEqual(second.updater.changes.map((c) => `${c.kind} ${c.path}`).sort(), [
      "add e.txt",
      "add s",
      "modify b.txt",
      "modify h.txt",
    ]);
    assertSameTree(disk, dst, src, disk);
    assert.equal(ino("b.txt"), before.b, "a changed plain file is overwritten in place");
    assert.equal(ino("e.txt"), before.e, "so is a leftover plain file");
    assert.notEqual(ino("h.txt"), before.h, "a hard-linked file is replaced");
    assert.notEqual(ino("s"), before.s, "a symlink is replaced");
    assert.equal(disk.readFileSync(`${tmp.dir}/outside`).toString(), "keep me");
    assert.deepEqual(
      disk.readdirSync(dst).filter((n) => n.startsWith(".")),
      [],
      "no temporary file left",
    );
  });

  it("rewrites files in place with no old byte left, writing their last block whole", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    disk.mkdirSync(src);
    disk.mkdirSync(dst);
    for (const [name, [text]] of Object.entries(REWRITES)) disk.writeFileSync(`${src}/${name}`, text);
    const first = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    for (const [name, [, text]] of Object.entries(REWRITES)) {
      disk.writeFileSync(`${src}/${name}`, text);
      disk.utimesSync(`${src}/${name}`, 1_700_000_000, 1_700_000_000); // "same" keeps its size
    }
    const inodes = Object.keys(REWRITES).map((name) => disk.lstatSync(`${dst}/${name}`).ino);
    const counted = recordingWrites(nodeFs, dst);
    const previous = recordOf(first.updater.changes);
    const second = await pipeSync({ fs: disk, root: src }, { fs: counted.fs, dest: dst, previous });
    assert.equal(second.received.filesReceived, Object.keys(REWRITES).length);
    assertSameTree(disk, dst, src, disk);
    for (const [name, [, text]] of Object.entries(REWRITES)) {
      assert.equal(disk.readFileSync(`${dst}/${name}`).toString(), text, name);
    }
    assert.deepEqual(
      Object.keys(REWRITES).map((name) => disk.lstatSync(`${dst}/${name}`).ino),
      inodes,
      "each file is rewritten in place",
    );
    // A file of 64 KiB or more is emptied first (its zero blocks may stay holes): its
    // last block holds no old data, so it is written as it is.
    assert.deepEqual(Object.fromEntries(counted.written), { ...REWRITE_BYTES, big: 200_001 });
  });

  it("receives into an in-memory file system (memfs)", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    disk.mkdirSync(src);
    writeTree(disk, src, sample);
    const mem = fileSystemFrom(new Volume());
    mem.mkdirSync("/snap", { recursive: true });
    await pipeSync({ fs: disk, root: src }, { fs: mem, dest: "/snap" });
    assertSameTree(mem, "/snap", src, disk);
    const again = await pipeSync({ fs: disk, root: src }, { fs: mem, dest: "/snap" });
    assert.equal(again.sent.bytesSent, 0);
  });
});
