/** Removing snapshot trees a few calls at a time (`backends/remove_tree.ts`). */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Volume } from "memfs";
import { removeTree } from "../backends/remove_tree.ts";
import { type FileSystem, fileSystemFrom } from "../core/file_system.ts";
import { Limiter } from "../core/limiter.ts";
import { DiskBackend, FsBackend, MemoryTransport, type TreeSpec } from "../mod.ts";
import { openTestCache, sleep } from "./_helpers.ts";

/**
 * `inner` whose promise calls are served as libuv serves node's: first come, first
 * served, by four threads, each call taking a millisecond. Counts the calls waiting or
 * running, and how many calls started while a given one waited.
 */
function threadPoolFileSystem(inner: FileSystem): {
  fs: FileSystem;
  maxPending(): number;
  calls(): number;
  startedBefore(call: () => Promise<unknown>): Promise<number>;
} {
  const threads = new Limiter(4);
  let pending = 0;
  let max = 0;
  let calls = 0;
  let started = 0;
  const fs = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string" || name.endsWith("Sync")) return value;
      return async (...args: unknown[]) => {
        pending++;
        calls++;
        max = Math.max(max, pending);
        try {
          return await threads.run(async () => {
            started++;
            await sleep(1);
            return await value.apply(target, args);
          });
        } finally {
          pending--;
        }
      };
    },
  });
  const startedBefore = async (call: () => Promise<unknown>) => {
    const before = started;
    let at = 0;
    await threads.run(async () => {
      at = started;
    });
    await call();
    return at - before;
  };
  return { fs, maxPending: () => max, calls: () => calls, startedBefore };
}

/** A tree of `dirs` directories of `files` files each, a nested empty directory and links out of it. */
function writeTree(fs: FileSystem, root: string, dirs: number, files: number): void {
  for (let d = 0; d < dirs; d++) {
    fs.mkdirSync(`${root}/d${d}/empty`, { recursive: true });
    for (let f = 0; f < files; f++) fs.writeFileSync(`${root}/d${d}/f${f}`, `content ${d}/${f}`);
  }
  fs.symlinkSync("/outside", `${root}/link-to-dir`);
  fs.symlinkSync("/outside/keep", `${root}/d0/link-to-file`);
}

describe("removeTree", () => {
  it("removes files, directories and links, never what a link points to", async () => {
    const fs = fileSystemFrom(new Volume());
    fs.mkdirSync("/outside", { recursive: true });
    fs.writeFileSync("/outside/keep", "keep");
    writeTree(fs, "/snap", 3, 20);
    await removeTree(fs, "/snap");
    assert.equal(fs.existsSync("/snap"), false);
    assert.equal(await fs.readFile("/outside/keep", "utf8"), "keep");
    assert.deepEqual(fs.readdirSync("/outside"), ["keep"]);
  });

  it("is fine with a path that is missing, and removes a path that is a file or a link", async () => {
    const fs = fileSystemFrom(new Volume());
    await removeTree(fs, "/nothing/here");
    fs.mkdirSync("/dir");
    fs.writeFileSync("/dir/file", "x");
    fs.symlinkSync("/dir", "/link");
    await removeTree(fs, "/link");
    assert.equal(fs.existsSync("/link"), false);
    assert.equal(fs.existsSync("/dir/file"), true, "the link's target stays");
    await removeTree(fs, "/dir/file");
    assert.deepEqual(fs.readdirSync("/dir"), []);
  });

  it("keeps at most four calls in flight, however many entries a directory holds", async () => {
    const volume = new Volume();
    const { fs, maxPending, calls } = threadPoolFileSystem(fileSystemFrom(volume));
    writeTree(fileSystemFrom(volume), "/snap", 2, 300);
    await removeTree(fs, "/snap");
    assert.equal(volume.existsSync("/snap"), false);
    assert.ok(calls() >= 600, `every file unlinked (${calls()} calls)`);
    assert.ok(maxPending() <= 4, `at most 4 calls at once, saw ${maxPending()}`);
    assert.ok(maxPending() >= 2, `calls overlap (saw at most ${maxPending()} at once)`);
  });

  it("keeps removals that share a limiter within its one bound", async () => {
    const volume = new Volume();
    const { fs, maxPending } = threadPoolFileSystem(fileSystemFrom(volume));
    for (const name of ["a", "b", "c"]) writeTree(fileSystemFrom(volume), `/${name}`, 1, 100);
    const shared = new Limiter(4);
    await Promise.all(["/a", "/b", "/c"].map((dir) => removeTree(fs, dir, shared)));
    assert.deepEqual(volume.readdirSync("/"), []);
    assert.ok(maxPending() <= 4, `at most 4 calls at once over three removals, saw ${maxPending()}`);
  });

  it("lets another call through while it works, not after it", async () => {
    const volume = new Volume();
    const { fs, startedBefore } = threadPoolFileSystem(fileSystemFrom(volume));
    writeTree(fileSystemFrom(volume), "/snap", 1, 400);
    const removal = removeTree(fs, "/snap");
    const files = () => (volume.readdirSync("/snap/d0") as string[]).length;
    // Into the directory of 400 files.
    while (files() > 390) await sleep(1);
    // A session's call made meanwhile waits for the calls already running at most, not
    // for the ~400 the removal has left to make.
    const ahead = await startedBefore(() => fs.lstat("/"));
    const left = files();
    await removal;
    assert.ok(left > 100, `the removal was still going (${left} entries left)`);
    assert.ok(ahead <= 4, `${ahead} of the removal's calls went first`);
  });

  it("stops at a failure other than a missing entry, with its code", async () => {
    const volume = new Volume();
    const inner = fileSystemFrom(volume);
    writeTree(inner, "/snap", 1, 10);
    const failing: FileSystem = new Proxy(inner, {
      get(target, name, receiver) {
        if (name !== "unlink") return Reflect.get(target, name, receiver);
        return async (path: string) => {
          if (path.endsWith("/f3")) throw Object.assign(new Error(`EIO: i/o error, unlink '${path}'`), { code: "EIO" });
          return await target.unlink(path);
        };
      },
    });
    await assert.rejects(removeTree(failing, "/snap"), (err: { code?: string }) => err.code === "EIO");
    assert.equal(volume.existsSync("/snap/d0/f3"), true);
  });
});

describe("FsBackend.remove", () => {
  it("keeps its removals, however many at once, within four calls in flight", async () => {
    const volume = new Volume();
    const { fs, maxPending } = threadPoolFileSystem(fileSystemFrom(volume));
    const backend = new FsBackend(fs, "/snapshots");
    const ids = ["one", "two", "three"];
    for (const id of ids) writeTree(fileSystemFrom(volume), await backend.get(id), 1, 100);
    await Promise.all(ids.map((id) => backend.remove(id)));
    assert.deepEqual(await backend.list(), []);
    assert.ok(maxPending() <= 4, `at most 4 calls at once over three removals, saw ${maxPending()}`);
  });
});

describe("DiskBackend.remove", () => {
  it("removes a snapshot on the disk, links left pointing at what they pointed to", async () => {
    const root = nodeFs.mkdtempSync(join(tmpdir(), "fscache-remove-"));
    try {
      nodeFs.mkdirSync(join(root, "outside"));
      nodeFs.writeFileSync(join(root, "outside", "keep"), "keep");
      const backend = new DiskBackend(join(root, "cache"));
      const dir = await backend.get("snap1");
      nodeFs.mkdirSync(join(dir, "a", "b"), { recursive: true });
      nodeFs.writeFileSync(join(dir, "a", "b", "f"), "data");
      nodeFs.symlinkSync(join(root, "outside"), join(dir, "a", "out"));
      nodeFs.chmodSync(join(dir, "a", "b"), 0o555);
      await backend.remove("snap1");
      assert.equal(nodeFs.existsSync(dir), false);
      assert.equal(nodeFs.readFileSync(join(root, "outside", "keep"), "utf8"), "keep");
      assert.deepEqual(await backend.list(), []);
    } finally {
      nodeFs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("background GC removes what it selects through it, and the cache stays usable", async () => {
    const root = nodeFs.mkdtempSync(join(tmpdir(), "fscache-remove-"));
    try {
      const files: TreeSpec = {};
      for (let i = 0; i < 200; i++) files[`f${i}`] = `file ${i}`;
      const tree: TreeSpec = { "dir/": files };
      const { cache } = await openTestCache({
        backend: new DiskBackend(join(root, "cache")),
        gcPolicy: { maxSize: 0, maxKeepDuration: 0 },
      });
      cache.registerTransport("mem", new MemoryTransport(tree));
      const src = await cache.syncFrom({ key: "k1", transport: "mem" });
      const dir = src.root;
      assert.equal(nodeFs.readdirSync(join(dir, "dir")).length, 200);
      await src.close();
      // Released, so over the budget: collected in the background.
      await cache.flush();
      assert.deepEqual(await cache.sources(), []);
      assert.equal(nodeFs.existsSync(dir), false);
      const again = await cache.syncFrom({ key: "k2", transport: "mem" });
      assert.equal(nodeFs.readFileSync(join(again.root, "dir", "f7"), "utf8"), "file 7");
      await again.close();
      await cache.close();
    } finally {
      nodeFs.rmSync(root, { recursive: true, force: true });
    }
  });
});
