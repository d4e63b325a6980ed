/** LocalTransport over memory (memfs), and source entries that vanish or change while they are copied. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Volume } from "memfs";
import { WorkerPool } from "../backends/worker_pool.ts";
import { FSCache, fileSystemFrom, LocalTransport, MemoryBackend, MemoryMetaStore } from "../mod.ts";
import { writeSkippingZeros } from "../transports/sparse_write.ts";
import { recordingLogger } from "./_helpers.ts";
import {
  assertSameTree,
  freshChecksums,
  generateTree,
  REWRITE_BYTES,
  REWRITES,
  RecordingTree,
  recordingWrites,
  syncOnce,
} from "./_local_helpers.ts";

const disk = fileSystemFrom(fs);

describe("LocalTransport over memory", () => {
  it("syncs a memfs source into a MemoryBackend snapshot, then only the changes", async () => {
    const volume = new Volume();
    const memory = fileSystemFrom(volume);
    volume.mkdirSync("/src");
    generateTree(memory, "/src", 11, 30);
    const backend = new MemoryBackend({ volume });
    const dest = await backend.get("snap");
    const transport = new LocalTransport({ sourceFs: memory });
    const tree = await syncOnce(transport, "/src", dest, backend.fs, new RecordingTree());
    assertSameTree(memory, "/src", backend.fs, dest);
    assert.deepEqual(tree.checksums(), freshChecksums(backend.fs, dest));
    for (const previous of [true, false]) {
      await syncOnce(transport, "/src", dest, backend.fs, tree, { previous });
      assert.deepEqual(tree.changes, [], `no-op ${previous ? "with" : "without"} the recorded tree`);
    }
    volume.writeFileSync("/src/f0.txt", "edited");
    volume.utimesSync("/src/f0.txt", 1_700_000_000, 1_700_000_000);
    volume.rmSync("/src/d", { recursive: true });
    await syncOnce(transport, "/src", dest, backend.fs, tree, { previous: true });
    assert.deepEqual(tree.summary(), ["delete d", "modify f0.txt"]);
    assertSameTree(memory, "/src", backend.fs, dest);
    assert.deepEqual(tree.checksums(), freshChecksums(backend.fs, dest));
  });

  it("works through FSCache.syncFrom with a MemoryBackend", async () => {
    const volume = new Volume();
    volume.mkdirSync("/project/sub", { recursive: true });
    volume.writeFileSync("/project/sub/a.txt", "hello");
    const cache = await FSCache.open({
      backend: new MemoryBackend({ volume }),
      metaStore: new MemoryMetaStore(),
      gcInterval: 0,
    });
    cache.registerTransport("local", new LocalTransport({ sourceFs: fileSystemFrom(volume) }));
    await using src = await cache.syncFrom({ key: "k", transport: "local", path: "/project" });
    assert.equal(await src.fs.readFile(`${src.root}/sub/a.txt`, "utf8"), "hello");
    await cache.close();
  });
});

describe("LocalTransport: files rewritten in place", () => {
  for (const where of ["disk", "memory", "disk, writes counted"] as const) {
    it(`leave no old bytes when they shrink, grow or keep their size (${where})`, async () => {
      const volume = new Volume();
      const root = where === "memory" ? "/w" : mkdtempSync(join(tmpdir(), "fscache-"));
      const base = where === "memory" ? fileSystemFrom(volume) : disk;
      const counted = recordingWrites(fs, `${root}/snap`);
      const files = where === "disk, writes counted" ? counted.fs : base;
      if (where === "memory") volume.mkdirSync(root);
      try {
        files.mkdirSync(`${root}/src`);
        files.mkdirSync(`${root}/snap`);
        for (const [name, [text]] of Object.entries(REWRITES)) files.writeFileSync(`${root}/src/${name}`, text);
        const transport = new LocalTransport(where === "disk" ? {} : { sourceFs: files });
        const tree = await syncOnce(transport, `${root}/src`, `${root}/snap`, files, new RecordingTree());
        for (const [name, [, text]] of Object.entries(REWRITES)) {
          files.writeFileSync(`${root}/src/${name}`, text);
          files.utimesSync(`${root}/src/${name}`, 1_700_000_000, 1_700_000_000);
        }
        const inodes = Object.keys(REWRITES).map((name) => files.lstatSync(`${root}/snap/${name}`).ino);
        counted.written.clear();
        await syncOnce(transport, `${root}/src`, `${root}/snap`, files, tree, { previous: true });
        assert.deepEqual(
          tree.summary(),
          Object.keys(REWRITES)
            .map((name) => `modify ${name}`)
            .sort(),
        );
        for (const [name, [, text]] of Object.entries(REWRITES)) {
          assert.equal(new TextDecoder().decode(files.readFileSync(`${root}/snap/${name}`)), text, name);
        }
        const after = Object.keys(REWRITES).map((name) => files.lstatSync(`${root}/snap/${name}`).ino);
        if (where !== "memory") assert.deepEqual(after, inodes, "each file is rewritten in place");
        if (where === "disk, writes counted") assert.deepEqual(Object.fromEntries(counted.written), REWRITE_BYTES);
        assertSameTree(files, `${root}/src`, files, `${root}/snap`);
        assert.deepEqual(tree.checksums(), freshChecksums(files, `${root}/snap`));
      } finally {
        if (where !== "memory") rmSync(root, { recursive: true, force: true });
      }
    });
  }
});

describe("LocalTransport: directory times around rewritten files", () => {
  it("a file rewritten in place leaves its directory alone; one replaced has its directory's time set again", async () => {
    const root = mkdtempSync(join(tmpdir(), "fscache-"));
    try {
      for (const dir of ["src", "src/kept", "src/linked", "snap"]) fs.mkdirSync(`${root}/${dir}`);
      for (const dir of ["kept", "linked"]) fs.writeFileSync(`${root}/src/${dir}/f`, "old");
      const transport = new LocalTransport();
      const setDirTimes = () => {
        for (const dir of ["src/kept", "src/linked"]) fs.utimesSync(`${root}/${dir}`, 1_600_000_000, 1_600_000_000);
      };
      setDirTimes();
      const tree = await syncOnce(transport, `${root}/src`, `${root}/snap`, disk, new RecordingTree());
      // A second name outside the snapshot: that file cannot be rewritten in place.
      fs.linkSync(`${root}/snap/linked/f`, `${root}/outside`);
      const inodes = ["kept", "linked"].map((dir) => fs.lstatSync(`${root}/snap/${dir}/f`).ino);
      for (const dir of ["kept", "linked"]) {
        fs.writeFileSync(`${root}/src/${dir}/f`, "new content");
        fs.utimesSync(`${root}/src/${dir}/f`, 1_700_000_000, 1_700_000_000);
      }
      setDirTimes();
      await syncOnce(transport, `${root}/src`, `${root}/snap`, disk, tree, { previous: true });
      assert.deepEqual(tree.summary(), ["modify kept/f", "modify linked/f"]);
      const after = ["kept", "linked"].map((dir) => fs.lstatSync(`${root}/snap/${dir}/f`).ino);
      assert.equal(after[0], inodes[0], "rewritten in place");
      assert.notEqual(after[1], inodes[1], "replaced: another name shares the old file");
      assert.equal(fs.readFileSync(`${root}/outside`, "utf8"), "old");
      // Times included: the replaced file's directory has the source's again.
      assertSameTree(disk, `${root}/src`, disk, `${root}/snap`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** A disk `fs` whose `openSync` runs `hook` first for one source path: to move files under the copier's feet. */
function meddlingFs(target: string, hook: (attempt: number) => void) {
  let attempt = 0;
  const wrapped = {
    ...fs,
    promises: fs.promises,
    openSync(path: string, flags: string, mode?: number) {
      if (path === target && flags === "r") hook(attempt++);
      return fs.openSync(path, flags, mode);
    },
  };
  return fileSystemFrom(wrapped);
}

describe("LocalTransport.prepare", () => {
  it("starts walk threads early only for a snapshot recorded large, or of unknown size", async () => {
    const started: number[] = [];
    const { start } = WorkerPool.prototype;
    WorkerPool.prototype.start = function (count?: number) {
      started.push(count ?? this.size);
    };
    try {
      const id = { key: "k", transport: "local", path: "/src" };
      for (const entries of [5, 19_999, 20_000, undefined]) {
        const transport = new LocalTransport({ concurrency: 2 });
        transport.prepare({ id, fs: disk, ...(entries === undefined ? {} : { entries }) });
        await transport.close();
      }
      // Over an in-memory snapshot nothing runs on threads, whatever its size.
      new LocalTransport({ concurrency: 2 }).prepare({ id, fs: fileSystemFrom(new Volume()) });
    } finally {
      WorkerPool.prototype.start = start;
    }
    assert.deepEqual(started, [1, 1], "one worker (the calling thread walks too) for 20,000 entries and unknown");
  });

  it("walks a source recorded large while the record decodes, and the copy takes that walk over", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    const src = `${tmp}/src`;
    const dst = `${tmp}/dst`;
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    generateTree(disk, src, 21, 200, 2000);
    const transport = new LocalTransport({ concurrency: 2, parallelWalk: 1 });
    const posted: { op: string; options?: { only?: string[] } }[] = [];
    const { run } = WorkerPool.prototype;
    try {
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      fs.writeFileSync(`${src}/f0.txt`, "edited");
      fs.utimesSync(`${src}/f0.txt`, 1_700_000_000, 1_700_000_000);
      fs.writeFileSync(`${src}/added.txt`, "new");
      WorkerPool.prototype.run = function (this: WorkerPool, task, transfer, on) {
        posted.push(task as (typeof posted)[number]);
        return run.call(this, task, transfer, on);
      } as typeof run;
      const id = { key: "k2", transport: "local", path: src };
      transport.prepare({ id, fs: disk, entries: tree.size });
      const walks = () => posted.filter((task) => task.op === "walk");
      const copyAgain = () =>
        transport.copy({
          id,
          dest: dst,
          fs: disk,
          updater: tree,
          signal: new AbortController().signal,
          previous: tree,
        });
      // Before `prepare` returns, the worker already holds runs of the walk to start on.
      assert.ok(walks().length >= 1 && walks().every((task) => (task.options?.only ?? []).length > 0));
      tree.begin();
      await copyAgain();
      // Taken over, not walked again: a fresh walk would first ping the worker with an empty run.
      assert.ok(walks().every((task) => (task.options?.only ?? []).length > 0));
      assert.deepEqual(tree.summary(), ["add added.txt", "modify f0.txt"]);
      assertSameTree(disk, src, disk, dst);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
      // The walk was taken over, not kept: the next copy of an unprepared request walks afresh.
      fs.rmSync(`${src}/added.txt`);
      tree.begin();
      await copyAgain();
      assert.deepEqual(tree.summary(), ["delete added.txt"]);
    } finally {
      WorkerPool.prototype.run = run;
      await transport.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("never throws: a walk whose copy never comes, or that fails, is dropped; a bad request is left to copy", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    const transport = new LocalTransport({ concurrency: 2 });
    try {
      generateTree(disk, tmp, 3, 20, 100);
      transport.prepare({ id: { key: "a", transport: "local", path: tmp }, fs: disk, entries: 50_000 });
      transport.prepare({ id: { key: "b", transport: "local", path: `${tmp}/missing` }, fs: disk, entries: 50_000 });
      const relative = { key: "c", transport: "local", path: "relative/dir" };
      transport.prepare({ id: relative, fs: disk, entries: 50_000 });
      await assert.rejects(
        transport.copy({
          id: relative,
          dest: tmp,
          fs: disk,
          updater: new RecordingTree(),
          signal: new AbortController().signal,
        }),
        { code: "ERR_INVALID_PATH", key: "c" },
      );
      // Long enough for both walks to end in the worker; a rejection left unhandled fails the run.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await transport.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("LocalTransport: copying threads", () => {
  it("counts the calling thread in `concurrency`: 2 copies with one worker beside it, 1 with none", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    const { run } = WorkerPool.prototype;
    const copiedBy = new Map<number, Set<string>>();
    try {
      // 600 files in 3 batches, none "small": enough for a worker lane beside the calling thread.
      generateTree(disk, `${tmp}/src`, 24, 600, 200);
      for (const concurrency of [2, 1]) {
        const workers = new Set<string>();
        copiedBy.set(concurrency, workers);
        WorkerPool.prototype.run = function (this: WorkerPool, task, transfer, on) {
          // The lane's first task (an empty delete) too: on a loaded machine the calling
          // thread may copy every batch before the worker answers it.
          if (task.op === "files" || task.op === "delete") workers.add(`${this.size}:${on}`);
          return run.call(this, task, transfer, on);
        } as typeof run;
        const transport = new LocalTransport({ concurrency, smallSync: { files: 0 } });
        const dst = `${tmp}/dst${concurrency}`;
        fs.mkdirSync(dst);
        try {
          const tree = await syncOnce(transport, `${tmp}/src`, dst, disk, new RecordingTree());
          assertSameTree(disk, `${tmp}/src`, disk, dst);
          assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
        } finally {
          await transport.close();
        }
      }
    } finally {
      WorkerPool.prototype.run = run;
      rmSync(tmp, { recursive: true, force: true });
    }
    assert.deepEqual([...(copiedBy.get(2) ?? [])], ["1:0"], "one worker, in a pool of one");
    assert.deepEqual([...(copiedBy.get(1) ?? [])], [], "no worker at all");
  });
});

describe("LocalTransport: sparse files", () => {
  const MiB = 1024 * 1024;
  /** A file of `size` bytes holding only `writes` (offset, text), the rest holes. */
  const sparseFile = (path: string, size: number, writes: [number, string][]) => {
    const fd = fs.openSync(path, "w");
    for (const [at, text] of writes) fs.writeSync(fd, text, at);
    fs.ftruncateSync(fd, size);
    fs.closeSync(fd);
  };
  const allocated = (path: string) => fs.statSync(path).blocks * 512;

  it("writes every byte that is not in a whole block of zeros, wherever a chunk starts", () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    try {
      for (const at of [0, 4000, 4096, 8191]) {
        const data = new Uint8Array(5 * 4096);
        data[0] = 1; // in the block that straddles `at` (unless aligned)
        data[4096 * 2 + 17] = 2;
        data[data.length - 1] = 3;
        const fd = fs.openSync(`${tmp}/f${at}`, "w");
        const written = writeSkippingZeros(fs, fd, data, data.length, at);
        fs.ftruncateSync(fd, at + data.length);
        fs.closeSync(fd);
        const back = fs.readFileSync(`${tmp}/f${at}`);
        assert.deepEqual(new Uint8Array(back.subarray(at)), data, `at ${at}`);
        assert.ok(written < data.length, `at ${at}: ${written} bytes written, some blocks skipped`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("keeps a sparse source's holes, and writes a file that is not sparse whole", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    const src = `${tmp}/src`;
    const dst = `${tmp}/dst`;
    const transport = new LocalTransport();
    try {
      fs.mkdirSync(src);
      fs.mkdirSync(dst);
      sparseFile(`${src}/disk.img`, 12 * MiB, [
        [0, "header"],
        [5 * MiB + 100, "middle"],
      ]);
      // Zeros written out: not sparse in the source, so not in the copy either (as cp).
      const dense = new Uint8Array(256 * 1024);
      dense[0] = 1;
      fs.writeFileSync(`${src}/zeros.bin`, dense);
      assert.ok(allocated(`${src}/disk.img`) < MiB, "this file system keeps holes");
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assertSameTree(disk, src, disk, dst);
      assert.ok(allocated(`${dst}/disk.img`) < MiB, `${allocated(`${dst}/disk.img`)} bytes allocated`);
      assert.ok(allocated(`${dst}/zeros.bin`) >= dense.length);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));

      // Rewritten in place, with holes where the old copy had data: none of it stays.
      sparseFile(`${src}/disk.img`, 12 * MiB, [[8 * MiB, "moved"]]);
      fs.rmSync(`${src}/zeros.bin`);
      sparseFile(`${src}/zeros.bin`, dense.length, [[dense.length - 1, "z"]]);
      fs.utimesSync(`${src}/zeros.bin`, 1_700_000_000, 1_700_000_000);
      tree.begin();
      await syncOnce(transport, src, dst, disk, tree, { previous: true });
      assert.deepEqual(tree.summary(), ["modify disk.img", "modify zeros.bin"]);
      assertSameTree(disk, src, disk, dst);
      assert.ok(allocated(`${dst}/disk.img`) < MiB);
      assert.ok(allocated(`${dst}/zeros.bin`) < dense.length, "the dense copy became sparse");
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
    } finally {
      await transport.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("LocalTransport with a source that moves", () => {
  const setup = () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    fs.mkdirSync(`${tmp}/src`);
    fs.mkdirSync(`${tmp}/dst`);
    generateTree(disk, `${tmp}/src`, 12, 12, 2000);
    return { tmp, src: `${tmp}/src`, dst: `${tmp}/dst` };
  };

  it("drops a file that vanishes after the walk", async () => {
    const { tmp, src, dst } = setup();
    try {
      const transport = new LocalTransport({ sourceFs: meddlingFs(`${src}/f0.txt`, () => fs.rmSync(`${src}/f0.txt`)) });
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assert.ok(!tree.changes.some((c) => c.path === "f0.txt"));
      assertSameTree(disk, src, disk, dst);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("copies a file again once when it changes while copied, reporting its new stat", async () => {
    const { tmp, src, dst } = setup();
    try {
      const path = `${src}/f0.txt`;
      const transport = new LocalTransport({
        sourceFs: meddlingFs(path, (attempt) => {
          if (attempt === 0) {
            fs.writeFileSync(path, "rewritten while copied");
            fs.utimesSync(path, 1_650_000_000, 1_650_000_000);
          }
        }),
      });
      // The hook runs at open time, after the walk recorded the old stat: the copy must notice.
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      const change = tree.changes.find((c) => c.path === "f0.txt");
      assert.equal(change?.stat?.size, "rewritten while copied".length);
      assert.equal(fs.readFileSync(`${dst}/f0.txt`, "utf8"), "rewritten while copied");
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("fails with ERR_SOURCE_CHANGED and the path when a file keeps changing", async () => {
    const { tmp, src, dst } = setup();
    try {
      const path = `${src}/f0.txt`;
      const transport = new LocalTransport({
        sourceFs: meddlingFs(path, (attempt) => fs.appendFileSync(path, `more ${attempt}`)),
      });
      await assert.rejects(syncOnce(transport, src, dst, disk, new RecordingTree()), {
        code: "ERR_SOURCE_CHANGED",
        path: "f0.txt",
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("skips a fifo with a warning", async () => {
    const { tmp, src, dst } = setup();
    try {
      execFileSync("mkfifo", [`${src}/pipe`]);
      const logger = recordingLogger();
      const transport = new LocalTransport({ logger });
      try {
        const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
        assert.ok(!tree.changes.some((c) => c.path === "pipe"));
      } finally {
        await transport.close();
      }
      assert.ok(!fs.existsSync(`${dst}/pipe`));
      assert.deepEqual(logger.messages, ["skipped pipe: devices, fifos and sockets are not synced"]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("LocalTransport: rewriting an entry keeps its directory's mtime", () => {
  it("a symlink rewritten because its recorded stat differs (as after a stale snapshot was rescanned) leaves the parent's mtime as the source's", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    try {
      const src = join(tmp, "src");
      const dest = join(tmp, "dest");
      fs.mkdirSync(`${src}/a`, { recursive: true });
      fs.mkdirSync(dest);
      fs.writeFileSync(`${src}/a/f`, "f");
      fs.symlinkSync("f", `${src}/a/link`);
      fs.utimesSync(`${src}/a`, 1_600_000_000, 1_600_000_000);
      const transport = new LocalTransport();
      const tree = await syncOnce(transport, src, dest, disk, new RecordingTree());
      assertSameTree(disk, src, disk, dest);
      // A record whose stat of the link is off (a scan of the snapshot reads back the
      // mtime utimes rounded; 2 ms here, so that no runtime's precision calls it equal):
      // the link is rewritten, which moves a/'s mtime.
      const link = tree.get("a/link");
      assert.ok(link?.stat);
      tree.handleChange("modify", "a/link", link.checksum, { ...link.stat, mtimeMs: link.stat.mtimeMs + 2 });
      await syncOnce(transport, src, dest, disk, tree, { previous: true });
      assert.deepEqual(tree.summary(), ["modify a/link"]);
      assertSameTree(disk, src, disk, dest);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
