/**
 * The diff-copy sender's walk, handed out in batches so STATs can leave while it goes
 * on: any batch size gives the same entries as the whole walk, and an excluded
 * directory is handed out only once something below it was re-included.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Volume } from "memfs";
import { type FileSystem, fileSystemFrom } from "../core/file_system.ts";
import { type SourceEntry, SourceWalker, walkSource } from "../transports/diffcopy/source_walker.ts";

function tree(): FileSystem {
  const vol = Volume.fromJSON({
    "/src/a/keep.log": "k",
    "/src/a/drop.log": "d",
    "/src/c.txt": "c",
    "/src/gen/keep.txt": "g",
    "/src/gen/drop.txt": "g",
    "/src/gen/deep/er/x.txt": "x",
    "/src/node_modules/x/y.js": "y",
    "/src/node_modules/z.js": "z",
    "/src/z/w.txt": "w",
  });
  vol.symlinkSync("../c.txt", "/src/z/link");
  vol.linkSync("/src/c.txt", "/src/z/hard");
  return fileSystemFrom(vol);
}

function batched(fs: FileSystem, excludes: string[], budget: number): { entries: SourceEntry[]; sizes: number[] } {
  const walker = new SourceWalker(fs, "/src", excludes);
  const entries: SourceEntry[] = [];
  const sizes: number[] = [];
  for (let batch = walker.next(budget); batch; batch = walker.next(budget)) {
    sizes.push(batch.length);
    entries.push(...batch);
  }
  return { entries, sizes };
}

const paths = (entries: SourceEntry[]) => entries.map((e) => e.stat.path);

describe("SourceWalker", () => {
  it("gives every entry once in walk order, whatever the batch size", () => {
    const fs = tree();
    const whole = walkSource(fs, "/src");
    assert.deepEqual(paths(whole), [
      "a",
      "a/drop.log",
      "a/keep.log",
      "c.txt",
      "gen",
      "gen/deep",
      "gen/deep/er",
      "gen/deep/er/x.txt",
      "gen/drop.txt",
      "gen/keep.txt",
      "node_modules",
      "node_modules/x",
      "node_modules/x/y.js",
      "node_modules/z.js",
      "z",
      "z/hard",
      "z/link",
      "z/w.txt",
    ]);
    for (const budget of [1, 2, 3, 7]) {
      const { entries, sizes } = batched(fs, [], budget);
      assert.deepEqual(entries, whole, `budget ${budget}`);
      assert.ok(sizes.length >= Math.ceil(whole.length / budget), "handed out as it walked");
    }
  });

  it("marks a second path to an inode as a hard link and reads symlink targets", () => {
    const byPath = new Map(walkSource(tree(), "/src").map((e) => [e.stat.path, e.stat]));
    assert.equal(byPath.get("z/hard")?.linkname, "c.txt");
    assert.equal(byPath.get("z/link")?.linkname, "../c.txt");
    assert.equal(byPath.get("c.txt")?.linkname, "");
  });

  it("with `!` exceptions, keeps an excluded directory only when something below it is re-included", () => {
    const fs = tree();
    const excludes = ["*/*.log", "!a/keep.log", "gen", "!gen/keep.txt", "node_modules"];
    const expected = ["a", "a/keep.log", "c.txt", "gen", "gen/keep.txt", "z", "z/hard", "z/link", "z/w.txt"];
    assert.deepEqual(paths(walkSource(fs, "/src", excludes)), expected);
    for (const budget of [1, 2, 5]) {
      assert.deepEqual(paths(batched(fs, excludes, budget).entries), expected, `budget ${budget}`);
    }
  });

  it("without exceptions, never enters an excluded directory", () => {
    const fs = tree();
    const { entries } = batched(fs, ["node_modules", "gen/deep"], 1);
    assert.ok(!paths(entries).some((p) => p.startsWith("node_modules") || p.startsWith("gen/deep")));
    assert.ok(paths(entries).includes("gen/keep.txt"));
  });
});
