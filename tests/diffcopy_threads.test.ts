/**
 * The diff-copy ends on several threads: the push client's walk shared with workers
 * gives exactly the single-thread walk's STATs (walk order, hard links to the first path
 * of an inode, excludes with `!` exceptions, names that are not UTF-8), whatever order
 * the runs finish in; a receive whose files are written by worker threads yields the
 * same tree and checksums, and still refuses what it refused before.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import type { WriteThreads } from "../transports/diffcopy/file_batches.ts";
import { PacketType } from "../transports/diffcopy/packet.ts";
import {
  type SourceRunTask,
  sourceBatches,
  type WalkThreads,
  walkSourceRun,
} from "../transports/diffcopy/source_runs.ts";
import type { SourceEntry } from "../transports/diffcopy/source_walker.ts";
import { walkSource } from "../transports/diffcopy/source_walker.ts";
import { diskWalkThreads, diskWriteThreads } from "../transports/local/diffcopy_threads.ts";
import { assertSameTree, disk, pipeSync, scanChecksums, tempDir, writeTree } from "./_diffcopy.ts";
import { assertNoWriteThroughLinks, DATA, END, FIN, runHostile, S } from "./_hostile.ts";

/** A tree of many runs: hard links across top directories (both ways), a symlink, a non-UTF-8 name. */
function makeSource(root: string): void {
  for (const top of ["a", "b", "c", "d"]) {
    for (let s = 0; s < 4; s++) {
      disk.mkdirSync(`${root}/${top}/s${s}`, { recursive: true });
      for (let f = 0; f < 5; f++) disk.writeFileSync(`${root}/${top}/s${s}/f${f}.txt`, `${top}${s}${f}`);
      disk.writeFileSync(`${root}/${top}/s${s}/x.log`, "log");
    }
  }
  disk.writeFileSync(`${root}/keep.log`, "kept by an exception");
  disk.writeFileSync(`${root}/top.txt`, "top");
  // the first path of this inode in walk order is a/…, though d/… may be walked first
  disk.linkSync(`${root}/a/s1/f1.txt`, `${root}/d/s3/hard-a`);
  disk.linkSync(`${root}/d/s0/f0.txt`, `${root}/b/s2/hard-d`);
  disk.symlinkSync("../top.txt", `${root}/c/s0/link`);
  disk.writeFileSync(`${root}/c/s1/bad-\udcff-name`, "bytes");
  for (const fifo of FIFOS) execFileSync("mkfifo", [`${root}/${fifo}`]);
}

/** Left out of every walk, and named. */
const FIFOS = ["b/s1/pipe", "d/s2/pipe"];

const view = (entries: SourceEntry[]) =>
  entries.map(({ stat, inode }) => ({ ...stat, xattrs: [...stat.xattrs], inode }));

async function collect(root: string, excludes: string[], threads: WalkThreads): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const batch of sourceBatches(disk, root, excludes, 7, threads)) out.push(...batch);
  return out;
}

/** Runs walked on this thread after a random delay: runs finish in any order. */
function shuffledThreads(threads: number, seed: number): WalkThreads & { walked: number } {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const fake = {
    threads,
    startAfter: 0,
    walked: 0,
    async walk(task: SourceRunTask) {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 8)));
      if (task.only.length > 0) fake.walked++;
      return walkSourceRun(disk, task);
    },
  };
  return fake;
}

describe("the push client's walk on several threads", () => {
  let root: string;
  let cleanup: () => void;
  before(() => {
    const tmp = tempDir();
    root = tmp.dir;
    cleanup = () => tmp[Symbol.dispose]();
    makeSource(root);
  });
  after(() => cleanup());

  for (const excludes of [[], ["*/*/x.log", "b"], ["b", "!b/s2", "*.log", "!keep.log"]]) {
    it(`gives the single-thread walk's STATs (excludes ${JSON.stringify(excludes)})`, async () => {
      const expected = view(walkSource(disk, root, excludes));
      assert.ok(expected.some((e) => e.linkname === "a/s1/f1.txt" && e.path === "d/s3/hard-a") || excludes.length > 0);
      for (const seed of [1, 2, 3, 4]) {
        const threads = shuffledThreads(3, seed);
        assert.deepEqual(view(await collect(root, excludes, threads)), expected, `seed ${seed}`);
        assert.ok(threads.walked > 0, "some runs were walked elsewhere");
      }
    });
  }

  it("leaves devices, fifos and sockets out and names each, on one thread or several", async () => {
    for (const [threads, excludes, named] of [
      [undefined, [], FIFOS],
      [shuffledThreads(3, 5), [], FIFOS],
      [shuffledThreads(3, 6), ["b"], ["d/s2/pipe"]],
    ] as const) {
      const skipped: string[] = [];
      const walked: SourceEntry[] = [];
      for await (const batch of sourceBatches(disk, root, excludes, 7, threads, (path) => skipped.push(path))) {
        walked.push(...batch);
      }
      assert.deepEqual(skipped.sort(), named);
      assert.ok(!walked.some((e) => e.stat.path.endsWith("/pipe")));
      assert.ok(walked.some((e) => e.stat.path === "b/s1/f0.txt") === (excludes.length === 0));
    }
  });

  it("gives the same STATs with real worker threads", async () => {
    const threads = diskWalkThreads(2);
    try {
      // Up before the walk, and its "up" answered at once from then on: otherwise this
      // thread could take every run of a tree this small before the answer came back.
      const up = await threads.walk({ root, excludes: [], only: [] });
      let offloaded = 0;
      const counted: WalkThreads = {
        threads: 2,
        startAfter: 0,
        walk: (task) => {
          if (task.only.length === 0) return Promise.resolve(up);
          offloaded++;
          return threads.walk(task);
        },
      };
      for (const excludes of [[], ["b", "!b/s2", "*.log", "!keep.log"]]) {
        const walked = await collect(root, excludes, counted);
        assert.deepEqual(view(walked), view(walkSource(disk, root, excludes)));
      }
      assert.ok(offloaded > 0, "the worker walked some runs");
    } finally {
      await threads.close();
    }
  });

  it("fails when a worker fails", async () => {
    const failing: WalkThreads = {
      threads: 2,
      startAfter: 0,
      walk: async (task) => {
        if (task.only.length === 0) return walkSourceRun(disk, task);
        throw Object.assign(new Error("cannot read"), { code: "EIO" });
      },
    };
    await assert.rejects(collect(root, [], failing), { code: "EIO" });
  });
});

/** Write threads that take every change set, however small. */
function eagerThreads(): WriteThreads & { close(): Promise<void> } {
  const threads = diskWriteThreads(2);
  return Object.assign(threads, { minFiles: 1 });
}

describe("a receive written by worker threads", () => {
  it("yields the same tree and checksums as one written here, first push and re-push", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    writeTree(disk, src, {
      "dir/": "",
      "dir/sub/": "",
      "dir/sub/a.txt": "a",
      "dir/empty": "",
      "dir/run.sh": { content: "#!/bin/sh\n", mode: 0o755 },
      "dir/link": { symlink: "sub/a.txt" },
      "dir/hard": { link: "dir/sub/a.txt" },
    });
    for (let i = 0; i < 60; i++) disk.writeFileSync(`${src}/dir/sub/f${i}`, "x".repeat(i * 997));
    // bigger than a gathered file: written on the receiving thread beside the others
    disk.writeFileSync(`${src}/big`, new Uint8Array(1.5 * 2 ** 20).fill(7));
    disk.mkdirSync(`${tmp.dir}/here`);
    disk.mkdirSync(`${tmp.dir}/there`);
    const threads = eagerThreads();
    try {
      const here = await pipeSync({ fs: disk, root: src }, { dest: `${tmp.dir}/here`, fs: disk });
      const there = await pipeSync(
        { fs: disk, root: src },
        { dest: `${tmp.dir}/there`, fs: disk },
        {
          writeThreads: threads,
        },
      );
      assertSameTree(disk, `${tmp.dir}/there`, src);
      const sums = (u: typeof here.updater) => new Map(u.changes.map((c) => [c.path, `${c.kind} ${c.checksum}`]));
      assert.deepEqual(sums(there.updater), sums(here.updater));
      assert.deepEqual(scanChecksums(disk, `${tmp.dir}/there`), scanChecksums(disk, `${tmp.dir}/here`));
      assert.equal(there.received.filesReceived, here.received.filesReceived);
      // existing paths: temporary files renamed over them
      for (let i = 0; i < 60; i += 3) disk.writeFileSync(`${src}/dir/sub/f${i}`, `changed ${i}`);
      const again = await pipeSync(
        { fs: disk, root: src },
        { dest: `${tmp.dir}/there`, fs: disk },
        {
          writeThreads: threads,
        },
      );
      assert.equal(again.received.filesReceived, 20);
      assertSameTree(disk, `${tmp.dir}/there`, src);
      assert.ok(!disk.readdirSync(`${tmp.dir}/there/dir/sub`).some((n) => n.startsWith(".fscache-tmp-")));
    } finally {
      await threads.close();
    }
  });

  it("hands its batch buffers to the next receive, keeping no more than one receive holds", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    disk.mkdirSync(src);
    // several 4 MiB batches: files of up to 1 MiB are gathered
    for (let i = 0; i < 24; i++) disk.writeFileSync(`${src}/f${i}`, new Uint8Array(900_000).fill(i));
    const threads = eagerThreads();
    const given: Uint8Array[] = [];
    const handedBack = new Set<Uint8Array>();
    const write = threads.write.bind(threads);
    threads.write = async (batch) => {
      given.push(batch.data);
      const written = await write(batch);
      handedBack.add(written.data);
      return written;
    };
    try {
      for (const dest of ["one", "two"]) disk.mkdirSync(`${tmp.dir}/${dest}`);
      await pipeSync({ fs: disk, root: src }, { dest: `${tmp.dir}/one`, fs: disk }, { writeThreads: threads });
      const pooled = [...(threads.spare ?? [])];
      assert.ok(given.length >= 4, `${given.length} batches`);
      // two lanes, two batches each, and four pinned arenas: the most one receive holds
      assert.ok(pooled.length > 0 && pooled.length <= 8, `${pooled.length} kept`);
      assert.ok(pooled.every((data) => handedBack.has(data)));
      given.length = 0;
      await pipeSync({ fs: disk, root: src }, { dest: `${tmp.dir}/two`, fs: disk }, { writeThreads: threads });
      assertSameTree(disk, `${tmp.dir}/two`, src);
      // the second receive filled the first one's buffers before making any
      const reused = given.slice(0, pooled.length);
      assert.ok(
        reused.every((data) => pooled.includes(data)),
        "buffers of the first receive reused",
      );
      assert.ok((threads.spare ?? []).length <= 8);
    } finally {
      await threads.close();
    }
  });

  it("replaces symlinks in the destination instead of writing through them", async () => {
    using tmp = tempDir();
    const threads = eagerThreads();
    try {
      await assertNoWriteThroughLinks(disk, tmp.dir, { writeThreads: threads });
    } finally {
      await threads.close();
    }
  });

  it("refuses more or less data than declared, leaving no temporary file", async () => {
    const threads = eagerThreads();
    try {
      for (const [input, message] of [
        [[S("a", { size: 3 }), S("b", { size: 2 }), END, DATA(0, "abcd")], /more data than the declared 3 bytes/],
        [[S("a", { size: 3 }), END, DATA(0, "ab"), DATA(0), FIN], /received 2 of the declared 3 bytes/],
      ] as const) {
        using tmp = tempDir();
        const dest = `${tmp.dir}/dest`;
        disk.mkdirSync(dest);
        disk.writeFileSync(`${dest}/b`, "old");
        const { error, replies } = await runHostile(disk, dest, [...input], { writeThreads: threads });
        assert.ok(error instanceof FSCacheError);
        assert.equal(error.code, "ERR_PROTOCOL");
        assert.match(error.message, message);
        assert.ok(replies.some((p) => p.type === PacketType.ERR));
        assert.ok(!disk.readdirSync(dest).some((n) => n.startsWith(".fscache-tmp-")));
      }
    } finally {
      await threads.close();
    }
  });

  it("fails the receive when a thread fails to write, after every batch has settled", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    disk.mkdirSync(src);
    for (let i = 0; i < 5; i++) disk.writeFileSync(`${src}/f${i}`, `content ${i}`);
    disk.mkdirSync(`${tmp.dir}/dest`);
    let settled = 0;
    const failing: WriteThreads = {
      lanes: 1,
      minFiles: 1,
      accepts: () => true,
      write: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        settled++;
        throw Object.assign(new Error("disk on fire"), { code: "EIO" });
      },
    };
    await assert.rejects(
      pipeSync({ fs: disk, root: src }, { dest: `${tmp.dir}/dest`, fs: disk }, { writeThreads: failing }),
      (err: unknown) => {
        assert.equal(settled, 1);
        return (err as { code?: string }).code !== undefined;
      },
    );
  });
});
