/**
 * The shortcuts that make repeat syncs and short CLI runs cheap must give the answers
 * the slow paths give: snapshot sizes taken from the hash tree, trees rebuilt in walk
 * order, no-op syncs that keep the stored tree, and commands loaded on demand.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Volume } from "memfs";
import { loadCommand } from "../cli/command.ts";
import { commands } from "../cli/commands/index.ts";
import { cleanRelativePath } from "../core/path.ts";
import { digestInput } from "../core/root_digest.ts";
import { snapshotSize } from "../core/snapshot_size.ts";
import type { CopyRequest, MetaStore, Transport } from "../core/types.ts";
import {
  FSCache,
  FsBackend,
  fileSystemFrom,
  HashTree,
  inlineScanner,
  LocalTransport,
  MemoryMetaStore,
  nodeSha256,
} from "../mod.ts";
import { cli } from "./_cli.ts";
import { generateTree } from "./_local_helpers.ts";

const disk = fileSystemFrom(fs);
const SUM = "6ef733e27d7e19cd509d8fd57b92ac90672e5137a6352a96a9f0a2153e320658";

/** A MetaStore that counts hash-tree writes. */
class CountingMetaStore extends MemoryMetaStore {
  treeWrites = 0;
  override async putHashTree(key: string, data: Uint8Array): Promise<void> {
    this.treeWrites++;
    await super.putHashTree(key, data);
  }
}

async function recordedSize(meta: MetaStore, key: string): Promise<number | null | undefined> {
  return (await meta.loadAll()).find((r) => r.key === key)?.size;
}

function withTemp(run: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "fscache-"));
    try {
      await run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("snapshot size from the hash tree", () => {
  it("equals the size walk for files, empty files, symlinks and directories", async () => {
    const vol = Volume.fromJSON({ "/s/a.txt": "hello", "/s/d/b.bin": "x".repeat(5000), "/s/d/e/empty": "" });
    vol.symlinkSync("../a.txt", "/s/d/link");
    vol.symlinkSync("/nowhere/\u00e9t\u00e9", "/s/abs");
    const memfs = fileSystemFrom(vol);
    const tree = await inlineScanner.scan(memfs, "/s", nodeSha256);
    assert.equal(tree.contentSize(), await snapshotSize(memfs, "/s"));
    assert.equal(tree.contentSize(), 5 + 5000 + "../a.txt".length + Buffer.byteLength("/nowhere/\u00e9t\u00e9"));
  });

  it("the size walk counts a hard-linked file once, with or without synchronous calls", async () => {
    const vol = Volume.fromJSON({ "/s/a.txt": "hello", "/s/d/b.bin": "x".repeat(5000) });
    vol.linkSync("/s/a.txt", "/s/d/hard");
    vol.symlinkSync("../a.txt", "/s/d/link");
    const memfs = fileSystemFrom(vol);
    // As a browser's OPFS on a page's main thread: only the promise methods work.
    const promisesOnly = new Proxy(memfs, {
      get: (target, name, receiver) => {
        if (name === "asyncOnly") return true;
        if (typeof name === "string" && name.endsWith("Sync")) {
          return () => assert.fail(`${name} called on a file system without synchronous calls`);
        }
        return Reflect.get(target, name, receiver);
      },
    });
    const expected = 5 + 5000 + "../a.txt".length;
    assert.equal(await snapshotSize(memfs, "/s"), expected);
    assert.equal(await snapshotSize(promisesOnly, "/s"), expected);
    assert.equal(await snapshotSize(promisesOnly, "/missing"), 0);
  });

  it("is unknown when an entry has no stat or is a hard link", () => {
    const bare = new HashTree(nodeSha256);
    bare.apply("add", "a", SUM);
    assert.equal(bare.contentSize(), undefined);
    const linked = new HashTree(nodeSha256);
    const file = { mode: 0o100644, uid: 0, gid: 0, size: 4, mtimeMs: 1 };
    linked.apply("add", "a", SUM, file);
    linked.apply("add", "b", SUM, { ...file, size: 0, linkname: "a" });
    assert.equal(linked.contentSize(), undefined);
    linked.apply("delete", "b");
    assert.equal(linked.contentSize(), 4);
  });

  it(
    "is recorded after a local sync (hard links in the source become files) and equals the walk",
    withTemp(async (tmp) => {
      const src = join(tmp, "src");
      generateTree(disk, src, 7, 40, 20_000);
      fs.writeFileSync(join(src, "orig"), "0123456789");
      fs.linkSync(join(src, "orig"), join(src, "hard"));
      fs.symlinkSync("orig", join(src, "soft"));
      fs.mkdirSync(join(src, "empty-dir"));
      const metaStore = new CountingMetaStore();
      const cache = await FSCache.open({
        backend: new FsBackend(disk, join(tmp, "snap")),
        metaStore,
        gcInterval: 0,
      });
      const local = new LocalTransport({ threads: false });
      cache.registerTransport("local", local);
      try {
        const id = { sharedKey: "s", transport: "local", path: src };
        const first = await cache.syncFrom({ ...id, key: "k1" });
        const walked = await snapshotSize(disk, first.root);
        assert.equal(await recordedSize(metaStore, "k1"), walked);
        await first.close();
        assert.equal(metaStore.treeWrites, 1);

        // A no-op resync rebases onto k1, keeps its stored tree, and still knows its size.
        const second = await cache.syncFrom({ ...id, key: "k2" });
        assert.equal(metaStore.treeWrites, 1);
        assert.equal(await recordedSize(metaStore, "k2"), walked);
        assert.equal(await second.hash("."), (await inlineScanner.scan(disk, second.root, nodeSha256)).hash("."));
        await second.close();

        fs.appendFileSync(join(src, "orig"), "more");
        const third = await cache.syncFrom({ ...id, key: "k3" });
        assert.equal(metaStore.treeWrites, 2);
        assert.equal(await recordedSize(metaStore, "k3"), await snapshotSize(disk, third.root));
        await third.close();
      } finally {
        await cache.close();
        await local.close();
      }
    }),
  );

  it(
    "is left to the walk when a transport reports hard links",
    withTemp(async (tmp) => {
      const metaStore = new MemoryMetaStore();
      const cache = await FSCache.open({ backend: new FsBackend(disk, join(tmp, "snap")), metaStore, gcInterval: 0 });
      const linking: Transport = {
        async copy({ dest, updater }: CopyRequest) {
          updater.markSupported(true);
          fs.writeFileSync(join(dest, "a"), "abcd");
          fs.linkSync(join(dest, "a"), join(dest, "b"));
          const stat = { mode: 0o100644, uid: 0, gid: 0, size: 4, mtimeMs: 1 };
          updater.handleChange("add", "a", SUM, stat);
          updater.handleChange("add", "b", SUM, { ...stat, size: 0, linkname: "a" });
        },
      };
      cache.registerTransport("links", linking);
      try {
        const source = await cache.syncFrom({ key: "k", transport: "links" });
        assert.equal(await recordedSize(metaStore, "k"), null);
        await source.close();
        const [info] = await cache.sources();
        assert.equal(info?.size, 4);
      } finally {
        await cache.close();
      }
    }),
  );
});

describe("HashTree.fromWalkOrder", () => {
  const name = fc.constantFrom("a", "b", "a.b", "a0", "é", "z z");
  const pathArb = fc.array(name, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/"));

  it("builds the tree that apply builds, for random trees", () => {
    fc.assert(
      fc.property(fc.uniqueArray(pathArb, { maxLength: 40 }), fc.boolean(), (paths, withParents) => {
        const applied = new HashTree(nodeSha256);
        let n = 0;
        for (const path of paths) {
          const parts = path.split("/");
          // With parents, every ancestor has an entry (what scans and transports report).
          const all = withParents ? parts.map((_, i) => parts.slice(0, i + 1).join("/")) : [path];
          for (const p of all) {
            if (applied.get(p)) continue;
            const stat = { mode: 0o100644, uid: 0, gid: 0, size: n, mtimeMs: n };
            applied.apply("add", p, (n++ % 16).toString(16).repeat(64), n % 2 ? stat : undefined);
          }
        }
        const rebuilt = HashTree.fromWalkOrder(nodeSha256, [...applied.entries()]);
        assert.deepEqual([...rebuilt.entries()], [...applied.entries()]);
        assert.equal(rebuilt.size, applied.size);
        assert.equal(rebuilt.hash("."), applied.hash("."));
        if (paths[0]) assert.equal(rebuilt.hash(paths[0]), applied.hash(paths[0]));
      }),
    );
  });

  it("rejects entries out of order, repeated, or with bad paths", () => {
    const e = { checksum: SUM };
    assert.throws(
      () =>
        HashTree.fromWalkOrder(nodeSha256, [
          ["b", e],
          ["a", e],
        ]),
      /walk order/,
    );
    assert.throws(
      () =>
        HashTree.fromWalkOrder(nodeSha256, [
          ["a", e],
          ["a", e],
        ]),
      /walk order/,
    );
    assert.throws(() => HashTree.fromWalkOrder(nodeSha256, [["a/../b", e]]), /clean/);
    assert.throws(() => HashTree.fromWalkOrder(nodeSha256, [["a", { checksum: "xyz" }]]), /checksum/);
  });
});

describe("cleanRelativePath", () => {
  // What it did before paths already clean were handed back as they are.
  const reference = (path: string): string => {
    const out: string[] = [];
    for (const part of path.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (out.length === 0) return "escapes";
        out.pop();
      } else out.push(part);
    }
    return out.length === 0 ? "." : out.join("/");
  };
  const cleaned = (path: string): string => {
    try {
      return cleanRelativePath(path);
    } catch (err) {
      assert.equal((err as { code?: string }).code, "ERR_INVALID_PATH");
      return "escapes";
    }
  };

  it("gives the split-and-join answer for any path of names, dots and slashes", () => {
    const piece = fc.constantFrom("a", "b", ".", "..", "...", ".a", "a.", "/", "//", "\u00e9");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const path = pieces.join("");
        assert.equal(cleaned(path), reference(path));
      }),
      { numRuns: 3000 },
    );
  });

  it("hands a clean path back as it is, and cleans the rest", () => {
    assert.equal(cleanRelativePath("a/b.c/..d/.e"), "a/b.c/..d/.e");
    assert.equal(cleanRelativePath("./a//b/"), "a/b");
    assert.equal(cleanRelativePath("a/./b/../c"), "a/c");
    assert.equal(cleanRelativePath(""), ".");
    assert.equal(cleanRelativePath("/"), ".");
    assert.throws(() => cleanRelativePath("a/../.."), { code: "ERR_INVALID_PATH" });
  });
});

describe("dir: digests", () => {
  it("sort checksums as strings, equal 32-bit prefixes included", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.tuple(
            fc.constantFrom("00000000", "0000000f", "ffffffff", "a0000000"),
            fc.stringMatching(/^[0-9a-f]{0,56}$/),
          ),
          {
            maxLength: 60,
            selector: ([p, h]) => p + h,
          },
        ),
        (parts) => {
          const tree = new HashTree(nodeSha256);
          const sums = parts.map(([p, h]) => (p + h + "0".repeat(64)).slice(0, 64));
          if (new Set(sums).size !== sums.length) return;
          sums.forEach((sum, i) => void tree.apply("add", `f${i}`, sum));
          const naive = nodeSha256();
          naive.update([...sums].sort().join(","));
          assert.equal(tree.hash("."), `dir:${naive.digest()}`);
        },
      ),
    );
  });

  it("of a table's columns equal the naive digest, with the runtime's hex encoding and without, equal prefixes or not", () => {
    fc.assert(
      fc.property(
        // Counts around the 1,008 entries hashed per piece, and any below.
        fc.oneof(fc.constantFrom(1007, 1008, 1009, 2016, 2017), fc.integer({ min: 0, max: 300 })),
        fc.integer({ min: 0, max: 3 }),
        fc.integer(),
        (n, offset, seed) => {
          const bytes = Uint8Array.from({ length: n * 32 }, (_, i) => (Math.imul(seed ^ i, 2654435761) >>> 13) & 255);
          // Every third checksum starts as the first does: ties in the 32-bit prefix sort.
          for (let i = 3; i < n && seed % 2 === 0; i += 3) bytes.copyWithin(i * 32, 0, 4);
          // At an unaligned offset too, as a table's columns may sit in a larger buffer.
          const sums = new Uint8Array(offset + n * 32).subarray(offset);
          sums.set(bytes.subarray(0, n * 32));
          const hex = Array.from({ length: n }, (_, i) =>
            Array.from(sums.subarray(i * 32, i * 32 + 32), (b) => b.toString(16).padStart(2, "0")).join(""),
          );
          const naive = nodeSha256();
          naive.update(hex.sort().join(","));
          const want = naive.digest();
          const rootDigest = (portable: boolean) => {
            const hash = nodeSha256();
            hash.update(digestInput(sums, n, portable));
            return hash.digest();
          };
          assert.equal(rootDigest(false), want);
          assert.equal(rootDigest(true), want);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("CLI commands load on demand", () => {
  it("lists every command without loading it, and each one's --help works", async () => {
    const help = await cli(["--help"]);
    for (const entry of commands) {
      assert.ok(
        help.stdout.includes(
          `  ${entry.name.padEnd(Math.max(...commands.map((c) => c.name.length)))}  ${entry.summary}\n`,
        ),
        entry.name,
      );
      const command = await loadCommand(entry);
      assert.equal(command.name, entry.name);
      assert.equal(command.summary, entry.summary);
      const own = await cli([entry.name, "--help"]);
      assert.equal(own.code, 0, own.stderr);
      assert.match(own.stdout, new RegExp(`Usage: fscache ${entry.name}\\b`));
    }
  });
});
