/**
 * A walk of the process's working directory looks its entries up by their relative
 * paths (`WalkOptions.cwd`, `SourceWalkOptions.cwd`): the local transport's walk the
 * files it takes from the record, the push sender's walk every entry. Each must find
 * exactly what a walk by absolute paths finds, also when the working directory changes
 * between steps.
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { diskFs } from "../backends/disk_fs.ts";
import { RACY_MS } from "../core/listing_key.ts";
import { RecordedTable } from "../core/recorded_table.ts";
import { type FileSystem, fileSystemFrom } from "../mod.ts";
import { SourceWalker, walkSource } from "../transports/diffcopy/source_walker.ts";
import { RecordedListings } from "../transports/local/recorded_listings.ts";
import type { SyncFs } from "../transports/local/sync_fs.ts";
import { TreeWalker, type WalkResult, walkTree } from "../transports/local/walk.ts";
import { tempDir } from "./_diffcopy.ts";
import { generateTree, recordEntries } from "./_local_helpers.ts";

/** A record of what `walk` found. */
const recordOf = (walk: WalkResult): RecordedTable => RecordedTable.fromEntries(recordEntries(walk));

/**
 * The disk seen from a working directory of the test's choosing: relative paths resolve
 * against `at`, as the kernel resolves them against the process's; every path the walk
 * hands `lstatInto` is noted.
 */
function diskFrom(at: { cwd: string }): { fs: SyncFs; looked: string[] } {
  const looked: string[] = [];
  const resolve = (path: string) => (path.startsWith("/") ? path : `${at.cwd}/${path}`);
  const fs: SyncFs = {
    ...diskFs,
    lstatInto: (path, out, o) => {
      looked.push(path);
      return diskFs.lstatInto(resolve(path), out, o);
    },
    lstatSync: (path) => diskFs.lstatSync(resolve(path)),
    readdirSync: (path) => diskFs.readdirSync(resolve(path)),
    readlinkSync: (path) => diskFs.readlinkSync(resolve(path)),
  };
  return { fs, looked };
}

describe("a walk of the working directory", () => {
  const tmp = tempDir();
  // The working directory reads back without symlinks: so must the root it is compared with.
  const src = `${nodeFs.realpathSync(tmp.dir)}/src`;
  let record: RecordedTable;

  before(async () => {
    nodeFs.mkdirSync(src);
    generateTree(fileSystemFrom(nodeFs), src, 7, 80, 2000);
    // Directories changed within RACY_MS of a walk get no listing key: let the tree settle.
    await new Promise((resolve) => setTimeout(resolve, RACY_MS + 300));
    record = recordOf(walkTree(diskFs, src));
    // Changes a walk from the record must see in directories it does not read again.
    nodeFs.appendFileSync(`${src}/a/b/c/f3.txt`, "more");
    nodeFs.rmSync(`${src}/d/e/f5.txt`);
  });
  after(() => tmp[Symbol.dispose]());

  it("looks recorded files up by relative path and finds what absolute paths find", () => {
    const expected = walkTree(diskFs, src);
    const at = { cwd: src };
    const { fs, looked } = diskFrom(at);
    const cwd = () => at.cwd;
    assert.deepEqual(walkTree(fs, src, { listings: new RecordedListings(record), cwd }), expected);
    assert.ok(looked.length > 40, `files taken from the record: ${looked.length}`);
    for (const path of looked) assert.ok(!path.startsWith("/") && path.includes("/"), path);
    assert.ok(looked.includes("a/b/c/f3.txt"));
    // Anywhere else, the same walk goes by absolute paths.
    at.cwd = "/";
    looked.length = 0;
    assert.deepEqual(walkTree(fs, src, { listings: new RecordedListings(record), cwd }), expected);
    for (const path of looked) assert.ok(path.startsWith(`${src}/`), path);
  });

  it("follows the working directory from one step to the next", () => {
    const at = { cwd: src };
    const { fs, looked } = diskFrom(at);
    const walker = new TreeWalker(fs, src, { listings: new RecordedListings(record), cwd: () => at.cwd });
    const byStep: string[][] = [];
    for (let step = 0; ; step++) {
      // In and out of the root, and into a directory below it, where a relative path means another file.
      at.cwd = [src, "/", `${src}/a`][step % 3] as string;
      looked.length = 0;
      const done = walker.step(5);
      byStep.push([at.cwd, ...looked]);
      if (done) break;
    }
    assert.deepEqual(walker.result(), walkTree(diskFs, src));
    for (const [cwd, ...paths] of byStep) {
      for (const path of paths) assert.equal(path.startsWith("/"), cwd !== src, `${path} with the cwd at ${cwd}`);
    }
    assert.ok(byStep.filter(([cwd, ...paths]) => cwd === src && paths.length > 0).length > 2);
  });

  it("in the real working directory, finds what a walk from elsewhere finds", () => {
    const expected = walkTree(diskFs, src);
    const before = process.cwd();
    process.chdir(src);
    try {
      const listings = new RecordedListings(record);
      assert.deepEqual(walkTree(diskFs, src, { listings, cwd: process.cwd }), expected);
    } finally {
      process.chdir(before);
    }
  });
});

describe("the push sender's walk of the working directory", () => {
  const tmp = tempDir();
  const src = `${nodeFs.realpathSync(tmp.dir)}/src`;
  const disk = fileSystemFrom(diskFs);
  before(() => {
    nodeFs.mkdirSync(src);
    generateTree(fileSystemFrom(nodeFs), src, 9, 60, 2000);
  });
  after(() => tmp[Symbol.dispose]());

  /** The disk seen from `at.cwd` (as `diskFrom` above), every `lstatSync` path noted. */
  const fromCwd = (at: { cwd: string }): { fs: FileSystem; looked: string[] } => {
    const looked: string[] = [];
    const resolve = (path: string) => (path.startsWith("/") ? path : `${at.cwd}/${path}`);
    const fs: FileSystem = {
      ...disk,
      lstatSync: (path) => {
        looked.push(path);
        return disk.lstatSync(resolve(path));
      },
      readlinkSync: (path) => disk.readlinkSync(resolve(path)),
    };
    return { fs, looked };
  };

  it("sends the same STATs, looking entries up by relative path only while the root is the working directory", () => {
    const expected = walkSource(disk, src).map((entry) => entry.stat);
    const at = { cwd: src };
    const { fs, looked } = fromCwd(at);
    const walker = new SourceWalker(fs, src, [], { cwd: () => at.cwd });
    const stats = [];
    const byBatch: string[][] = [];
    for (let round = 0; ; round++) {
      at.cwd = [src, "/", `${src}/a`][round % 3] as string;
      looked.length = 0;
      const batch = walker.next(4);
      if (!batch) break;
      stats.push(...batch.map((entry) => entry.stat));
      byBatch.push([at.cwd, ...looked]);
    }
    assert.deepEqual(stats, expected);
    for (const [cwd, ...paths] of byBatch) {
      for (const path of paths) assert.equal(path.startsWith("/"), cwd !== src, `${path} with the cwd at ${cwd}`);
    }
    assert.ok(byBatch.filter(([cwd, ...paths]) => cwd === src && paths.length > 0).length > 2);
  });

  it("names an entry it cannot look up by its absolute path, as a walk from elsewhere does", () => {
    const at = { cwd: src };
    const { fs } = fromCwd(at);
    const failing: FileSystem = {
      ...fs,
      lstatSync: (path) => {
        if (path.endsWith("a/f1.txt"))
          throw Object.assign(new Error(`EACCES: permission denied, lstat '${path}'`), { code: "EACCES" });
        return fs.lstatSync(path);
      },
    };
    assert.throws(() => walkSource(failing, src), /lstat '\/.*\/src\/a\/f1\.txt'/);
    assert.throws(
      () => {
        const walker = new SourceWalker(failing, src, [], { cwd: () => at.cwd });
        while (walker.next(100));
      },
      new RegExp(`lstat '${src}/a/f1\\.txt'`),
    );
  });
});
