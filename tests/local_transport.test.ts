/** LocalTransport on the disk: worker threads and inline, first sync, no-op, edits, swaps, abort, checksums. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { compareWalkOrder, FSCache, FsBackend, fileSystemFrom, LocalTransport, MemoryMetaStore } from "../mod.ts";
import { assertSameTree, freshChecksums, generateTree, RecordingTree, syncOnce } from "./_local_helpers.ts";

const disk = fileSystemFrom(fs);

for (const threads of [true, false]) {
  describe(`LocalTransport on disk (${threads ? "worker threads" : "inline"})`, () => {
    let tmp: string;
    let transport: LocalTransport;
    let n = 0;
    const fresh = () => {
      const dir = join(tmp, `case${n++}`);
      fs.mkdirSync(`${dir}/src`, { recursive: true });
      fs.mkdirSync(`${dir}/dst`);
      return { src: `${dir}/src`, dst: `${dir}/dst` };
    };
    before(() => {
      tmp = mkdtempSync(join(tmpdir(), "fscache-"));
      // `smallSync: 0 files` sends even these small syncs to the workers, and `parallelWalk: 1`
      // splits every walk against a recorded tree between this thread and a worker.
      transport = new LocalTransport({ threads, concurrency: 2, smallSync: { files: 0 }, parallelWalk: 1 });
    });
    after(async () => {
      await transport.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    it("makes the snapshot equal to the source, and reports checksums equal to a fresh scan", async () => {
      const { src, dst } = fresh();
      generateTree(disk, src, 1);
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assert.equal(tree.supported, true);
      assertSameTree(disk, src, disk, dst);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
      assert.ok(tree.changes.every((c) => c.kind === "add"));
      assert.equal(fs.readlinkSync(`${dst}/a/outside`), "/etc/passwd");
      assert.ok(fs.lstatSync(`${dst}/a/outside`).isSymbolicLink());
    });

    it("makes hundreds of new directories, a deep chain among them, on two threads at once", async () => {
      const { src, dst } = fresh();
      // 200 directories, then a chain of 300: the second thread's half starts deep inside
      // the chain, below directories the first thread may not have made yet.
      for (let i = 0; i < 100; i++) {
        fs.mkdirSync(`${src}/w${i}/x`, { recursive: true });
        fs.writeFileSync(`${src}/w${i}/x/f`, String(i));
      }
      let deep = `${src}/z`;
      fs.mkdirSync(deep);
      for (let i = 0; i < 300; i++) {
        deep = `${deep}/${i % 10}`;
        fs.mkdirSync(deep);
        if (i % 7 === 0) fs.chmodSync(deep, 0o750);
      }
      fs.writeFileSync(`${deep}/leaf.txt`, "leaf");
      fs.chmodSync(`${src}/w7`, 0o555);
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assertSameTree(disk, src, disk, dst);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
      assert.equal(tree.changes.length, 200 + 100 + 301 + 1);
      // Reported in walk order, directories between their files (the tree needs no sort).
      const paths = tree.changes.map((c) => c.path);
      assert.deepEqual(paths, [...paths].sort(compareWalkOrder));
    });

    for (const previous of [true, false]) {
      const how = previous ? "with the recorded tree" : "walking the snapshot";
      it(`a no-op resync (${how}) reports nothing and copies nothing`, async () => {
        const { src, dst } = fresh();
        generateTree(disk, src, 2);
        const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
        assert.ok(tree.bytesCopied() > 0);
        await syncOnce(transport, src, dst, disk, tree, { previous });
        assert.deepEqual(tree.changes, []);
        assert.equal(tree.bytesCopied(), 0);
      });

      it(`after 3 edits, 1 delete and 2 adds (${how}) it reports exactly that`, async () => {
        const { src, dst } = fresh();
        generateTree(disk, src, 3);
        const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
        const later = 1_700_000_000;
        for (const f of ["f6.txt", "a/f7.txt", "a/b/f2.txt"]) {
          const path = join(src, f);
          fs.writeFileSync(path, `edited ${f}`);
          fs.utimesSync(path, later, later);
        }
        fs.rmSync(`${src}/d/f4.txt`);
        fs.writeFileSync(`${src}/new1`, "one");
        fs.writeFileSync(`${src}/d/e/new2`, "two two");
        await syncOnce(transport, src, dst, disk, tree, { previous });
        assert.deepEqual(tree.summary(), [
          "add d/e/new2",
          "add new1",
          "delete d/f4.txt",
          "modify a/b/f2.txt",
          "modify a/f7.txt",
          "modify f6.txt",
        ]);
        // Only the directories whose entries changed are updated (their mtime moved).
        assert.deepEqual(
          tree.summary({ dirs: true }).filter((c) => !tree.summary().includes(c)),
          ["modify d", "modify d/e"],
        );
        assert.equal(
          tree.bytesCopied(),
          ["edited f6.txt", "edited a/f7.txt", "edited a/b/f2.txt", "one", "two two"].join("").length,
        );
        assertSameTree(disk, src, disk, dst);
        assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
      });

      it(`handles a renamed dir and file↔dir, file↔symlink swaps (${how})`, async () => {
        const { src, dst } = fresh();
        generateTree(disk, src, 4);
        const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
        fs.renameSync(`${src}/a/b`, `${src}/a/renamed`);
        fs.rmSync(`${src}/f0.txt`);
        fs.mkdirSync(`${src}/f0.txt`);
        fs.writeFileSync(`${src}/f0.txt/inside`, "x");
        fs.rmSync(`${src}/d/e`, { recursive: true });
        fs.writeFileSync(`${src}/d/e`, "was a dir");
        fs.rmSync(`${src}/rel-link`);
        fs.writeFileSync(`${src}/rel-link`, "was a link");
        const victim = "f10.txt";
        fs.rmSync(`${src}/d/${victim}`);
        fs.symlinkSync("/etc", `${src}/d/${victim}`);
        await syncOnce(transport, src, dst, disk, tree, { previous });
        const summary = tree.summary();
        for (const line of [
          "delete a/b",
          "add a/renamed/c/f3.txt",
          "delete f0.txt",
          "add f0.txt/inside",
          "delete d/e",
        ]) {
          assert.ok(summary.includes(line), `${line} in ${summary.join(", ")}`);
        }
        assertSameTree(disk, src, disk, dst);
        assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
        assert.equal(fs.readlinkSync(`${dst}/d/${victim}`), "/etc");
      });
    }

    it("leaves out excluded paths (options, request, exceptions) and removes them from the snapshot", async () => {
      const { src, dst } = fresh();
      generateTree(disk, src, 5);
      fs.mkdirSync(`${src}/node_modules/pkg`, { recursive: true });
      fs.writeFileSync(`${src}/node_modules/pkg/index.js`, "x");
      fs.writeFileSync(`${src}/debug.log`, "log");
      fs.writeFileSync(`${src}/a/keep.log`, "keep");
      fs.writeFileSync(`${src}/a/drop.log`, "drop");
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assert.ok(fs.existsSync(`${dst}/debug.log`));
      const excluding = new LocalTransport({ threads, excludes: ["node_modules", "**/*.log"] });
      try {
        tree.begin();
        await excluding.copy({
          id: { key: "k", transport: "local", path: src, excludes: ["!a/keep.log", "empty"] },
          dest: dst,
          fs: disk,
          updater: tree,
          signal: new AbortController().signal,
          previous: tree,
        });
      } finally {
        await excluding.close();
      }
      assert.deepEqual(tree.summary(), [
        "delete a/drop.log",
        "delete debug.log",
        "delete empty",
        "delete node_modules",
      ]);
      assert.ok(fs.existsSync(`${dst}/a/keep.log`));
      assert.ok(!fs.existsSync(`${dst}/node_modules`));
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
    });

    it("copies a thousand files in batches shared between this thread and a worker, each reported once", async () => {
      const { src, dst } = fresh();
      generateTree(disk, src, 8, 1000, 3000);
      const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
      assertSameTree(disk, src, disk, dst);
      assert.deepEqual(tree.checksums(), freshChecksums(disk, dst));
      const added = tree.changes.filter((c) => c.kind === "add").map((c) => c.path);
      assert.equal(new Set(added).size, added.length, "no entry reported twice");
      assert.equal(added.length, freshChecksums(disk, dst).size);
    });

    it("an aborted sync fails with AbortError and the next sync repairs the snapshot", async () => {
      const { src, dst } = fresh();
      generateTree(disk, src, 6, 1200, 4000);
      const tree = new RecordingTree();
      const controller = new AbortController();
      // Aborted when the first batch is reported: later batches, still queued, must not
      // start. (An abort at a later change raced with batches a worker finished out of
      // turn, held back for walk order and then reported all at once.)
      tree.onChange = () => controller.abort();
      await assert.rejects(syncOnce(transport, src, dst, disk, tree, { signal: controller.signal }), {
        name: "AbortError",
      });
      tree.onChange = undefined;
      const reported = tree.changes.length;
      await syncOnce(transport, src, dst, disk, tree);
      assertSameTree(disk, src, disk, dst);
      const entries = freshChecksums(disk, dst);
      assert.deepEqual(tree.checksums(), entries);
      assert.ok(reported < entries.size, `stopped before the end: ${reported} of ${entries.size} reported`);
    });

    it("syncs a symlinked root when asked to follow it, and refuses it otherwise", async () => {
      const { src, dst } = fresh();
      generateTree(disk, src, 7, 5);
      const link = `${src}-link`;
      fs.symlinkSync(src, link);
      const tree = await syncOnce(transport, link, dst, disk, new RecordingTree());
      assertSameTree(disk, src, disk, dst);
      const strict = new LocalTransport({ threads, followRootSymlink: false });
      try {
        await assert.rejects(syncOnce(strict, link, dst, disk, tree), { code: "ERR_NOT_A_DIRECTORY" });
      } finally {
        await strict.close();
      }
      await assert.rejects(syncOnce(transport, `${src}-missing`, dst, disk, tree), { code: "ENOENT" });
      await assert.rejects(syncOnce(transport, "relative/dir", dst, disk, tree), { code: "ERR_INVALID_PATH" });
    });
  });
}

describe("LocalTransport through FSCache", () => {
  it("syncs `path` into a snapshot, and a rebased resync moves only the edit", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "fscache-"));
    const transport = new LocalTransport();
    const summaries: { added: number; modified: number; deleted: number; unchanged: number }[] = [];
    const counting = new LocalTransport({ onSummary: (s) => summaries.push(s) });
    const cache = await FSCache.open({
      backend: new FsBackend(disk, `${tmp}/cache`),
      metaStore: new MemoryMetaStore(),
      gcInterval: 0,
    });
    try {
      cache.registerTransport("local", counting);
      const src = `${tmp}/src`;
      fs.mkdirSync(src);
      generateTree(disk, src, 8, 20);
      const first = await cache.syncFrom({ key: "k1", sharedKey: src, transport: "local", path: src });
      assertSameTree(disk, src, disk, first.root);
      await first.close();
      fs.writeFileSync(`${src}/f0.txt`, "changed");
      const second = await cache.syncFrom({ key: "k2", sharedKey: src, transport: "local", path: src });
      assert.equal(second.root, first.root);
      assertSameTree(disk, src, disk, second.root);
      await second.close();
      assert.equal(summaries.length, 2);
      assert.deepEqual(
        { ...summaries[1], bytesCopied: undefined, skipped: undefined },
        {
          added: 0,
          modified: 1,
          deleted: 0,
          unchanged: (summaries[0]?.added ?? 0) - 1,
          bytesCopied: undefined,
          skipped: undefined,
        },
      );
      await assert.rejects(cache.syncFrom({ key: "k3", transport: "local" }), { code: "ERR_INVALID_OPTION" });
    } finally {
      await cache.close();
      await transport.close();
      await counting.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
