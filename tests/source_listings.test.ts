/**
 * The push client's listings (`transports/diffcopy/source_listings.ts`): a directory
 * whose inode and ctime are as at the last push is walked from the names kept then;
 * one that changed is read again; a record that cannot be trusted is no record; and
 * `fscache push` keeps them in its cache root, never failing for them.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as nodeFs from "node:fs";
import { after, before, describe, it } from "node:test";
import { type FileStats, type FileSystem, fileSystemFrom, type NodeStyleFs } from "../core/file_system.ts";
import { RACY_MS } from "../core/listing_key.ts";
import { SourceListings } from "../transports/diffcopy/source_listings.ts";
import { SourceWalker } from "../transports/diffcopy/source_walker.ts";
import { cli } from "./_cli.ts";
import { disk, tempDir, writeTree } from "./_diffcopy.ts";
import { shellQuote } from "./_helpers.ts";
import { cliCommand } from "./_processes.ts";

const NOW = 1_700_000_000_000;

/** The stats of a directory last changed `age` ms before {@linkcode NOW}. */
function dirStats(ino: number, age = 60_000): FileStats {
  const time = NOW - age;
  return {
    mode: 0o40755,
    uid: 0,
    gid: 0,
    size: 4096,
    mtimeMs: time,
    ctimeMs: time,
    ino,
    dev: 7,
    rdev: 0,
    nlink: 2,
    isFile: () => false,
    isDirectory: () => true,
    isSymbolicLink: () => false,
  };
}

/** Lists through `listings`, noting whether the directory was read. */
function listed(listings: SourceListings, rel: string, stats: FileStats, names: string[]) {
  let read = false;
  const out = listings.list(rel, stats, NOW, () => {
    read = true;
    return names;
  });
  return { out, read };
}

/** A record holding `a` (inode 11) with names `x`, `y`. */
function recorded(): string {
  const first = new SourceListings();
  listed(first, "a", dirStats(11), ["x", "y"]);
  return first.encode();
}

describe("SourceListings", () => {
  it("gives the kept names of a directory whose key is unchanged, without reading it", () => {
    const next = SourceListings.decode(recorded());
    const { out, read } = listed(next, "a", dirStats(11), ["read"]);
    assert.deepEqual(out, ["x", "y"]);
    assert.equal(read, false);
    // kept again for the push after
    assert.deepEqual(listed(SourceListings.decode(next.encode()), "a", dirStats(11), ["read"]).out, ["x", "y"]);
  });

  it("reads a directory whose inode or ctime moved, or that it has not seen", () => {
    assert.equal(listed(SourceListings.decode(recorded()), "a", dirStats(12), ["w"]).read, true);
    assert.equal(listed(SourceListings.decode(recorded()), "b", dirStats(11), ["w"]).read, true);
    const next = SourceListings.decode(recorded());
    const moved = { ...dirStats(11), ctimeMs: NOW - 30_000 };
    assert.deepEqual(listed(next, "a", moved, ["x", "y", "z"]), { out: ["x", "y", "z"], read: true });
    // what was read is what is kept
    assert.deepEqual(listed(SourceListings.decode(next.encode()), "a", moved, []).out, ["x", "y", "z"]);
  });

  it("keeps nothing of a directory changed within RACY_MS of the walk, or without a ctime", () => {
    const listings = new SourceListings();
    listed(listings, "racy", dirStats(21, RACY_MS - 1), ["x"]);
    const { ctimeMs: _, ...noCtime } = dirStats(22);
    listed(listings, "plain", noCtime as FileStats, ["x"]);
    const next = SourceListings.decode(listings.encode());
    assert.equal(listed(next, "racy", dirStats(21, RACY_MS - 1), ["x"]).read, true);
    assert.equal(listed(next, "plain", noCtime as FileStats, ["x"]).read, true);
  });

  it("keeps names that are not UTF-8, and any characters a name may hold", () => {
    // in walk order: byte order, so U+FFFD (EF BF BD) before U+1F600 (F0 9F 98 80)
    const names = ["a\nb", "a\udcff", "b\u00e9", "\ufffd", "\u{1f600}"];
    const first = new SourceListings();
    listed(first, "odd dir\t/sub", dirStats(31), names);
    const again = listed(SourceListings.decode(first.encode()), "odd dir\t/sub", dirStats(31), []);
    assert.deepEqual(again, { out: names, read: false });
  });

  it("says it changed when a directory was read, got no key or is gone, and only then", () => {
    const unchanged = SourceListings.decode(recorded());
    listed(unchanged, "a", dirStats(11), ["read"]);
    assert.equal(unchanged.changed, false);
    assert.equal(unchanged.encode(), recorded());
    const read = SourceListings.decode(recorded());
    listed(read, "a", dirStats(12), ["x"]);
    assert.equal(read.changed, true);
    const added = SourceListings.decode(recorded());
    listed(added, "a", dirStats(11), []);
    listed(added, "b", dirStats(13), ["z"]);
    assert.equal(added.changed, true);
    const racy = SourceListings.decode(recorded());
    listed(racy, "a", dirStats(11, RACY_MS - 1), ["x", "y"]);
    assert.equal(racy.changed, true);
    // a walk that no longer meets `a` (deleted, or excluded now)
    assert.equal(SourceListings.decode(recorded()).changed, true);
    // a first push has no record: anything it lists is new
    const first = new SourceListings();
    listed(first, "a", dirStats(11), ["x", "y"]);
    assert.equal(first.changed, true);
  });

  it("treats a record it cannot trust as none", () => {
    const good = JSON.parse(recorded());
    const bad = [
      undefined,
      "",
      "{",
      "[]",
      JSON.stringify({ ...good, version: 2 }),
      JSON.stringify({ ...good, format: "other" }),
      JSON.stringify({ ...good, dirs: ["a", 1] }),
      JSON.stringify({ ...good, dirs: ["a", 1.5, "x/y"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "y/x"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "x/x"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "x//y"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "../x"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "x/y\u0000z"] }),
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], ["x", "y"]] }),
      // out of order only as bytes: U+FFFD (EF BF BD) comes before U+1F600 (F0 9F 98 80)
      JSON.stringify({ ...good, dirs: ["a", good.dirs[1], "\u{1f600}/\ufffd"] }),
    ];
    for (const text of bad) {
      assert.equal(listed(SourceListings.decode(text), "a", dirStats(11), ["x", "y"]).read, true, String(text));
    }
  });
});

/** `node:fs` with each directory read noted (relative to `root`). */
function countingDisk(root: string): { fs: FileSystem; reads: string[] } {
  const reads: string[] = [];
  const module = {
    ...nodeFs,
    readdirSync: (path: string, options?: unknown) => {
      reads.push(String(path).slice(root.length + 1));
      return (nodeFs.readdirSync as (p: string, o?: unknown) => unknown)(path, options);
    },
  };
  return { fs: fileSystemFrom(module as unknown as NodeStyleFs), reads };
}

/** Every STAT of a walk of `root`, as comparable data. */
function walk(fs: FileSystem, root: string, listings?: SourceListings): unknown[] {
  const walker = new SourceWalker(fs, root, ["skip"], listings ? { listings } : {});
  const out: unknown[] = [];
  for (let batch = walker.next(Number.POSITIVE_INFINITY); batch; batch = walker.next(Number.POSITIVE_INFINITY)) {
    for (const { stat } of batch) out.push([stat.path, stat.mode, stat.size, stat.modTimeUs, stat.linkname]);
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the push client's walk with listings", () => {
  const tmp = tempDir();
  const root = `${tmp.dir}/src`;
  const { fs, reads } = countingDisk(root);
  let listings = new SourceListings();

  before(async () => {
    writeTree(disk, tmp.dir, {
      "src/": "",
      "src/a/": "",
      "src/a/b/": "",
      "src/a/b/f.txt": "f",
      "src/a/g.txt": "g",
      "src/skip/": "",
      "src/skip/x": "x",
      "src/l": { symlink: "a/g.txt" },
      "src/empty/": "",
    });
    // Directories changed within RACY_MS of a walk get no key: let the tree settle.
    await sleep(RACY_MS + 300);
    assert.deepEqual(walk(fs, root, listings), walk(disk, root));
  });
  after(() => tmp[Symbol.dispose]());

  it("a repeat walk reads only the root, and sends the same STATs", () => {
    listings = SourceListings.decode(listings.encode());
    reads.length = 0;
    const entries = walk(fs, root, listings);
    assert.deepEqual(reads, [""]);
    assert.deepEqual(entries, walk(disk, root));
  });

  it("still sees a changed file in a directory it did not read", () => {
    nodeFs.appendFileSync(`${root}/a/b/f.txt`, "more");
    listings = SourceListings.decode(listings.encode());
    reads.length = 0;
    const entries = walk(fs, root, listings);
    assert.deepEqual(reads, [""]);
    assert.deepEqual(entries, walk(disk, root));
  });

  it("reads a directory whose entries changed though its mtime was set back", async () => {
    nodeFs.writeFileSync(`${root}/a/b/new.txt`, "new");
    nodeFs.rmSync(`${root}/empty`, { recursive: true });
    nodeFs.mkdirSync(`${root}/empty`);
    nodeFs.utimesSync(`${root}/a/b`, 1_600_000_000, 1_600_000_000);
    await sleep(RACY_MS + 300);
    listings = SourceListings.decode(listings.encode());
    reads.length = 0;
    const entries = walk(fs, root, listings);
    assert.deepEqual(reads.sort(), ["", "a/b", "empty"]);
    assert.deepEqual(entries, walk(disk, root));
    assert.ok(entries.some((e) => (e as string[])[0] === "a/b/new.txt"));
  });
});

describe("fscache push and its listings", () => {
  const server = (cache: string) => {
    const [command, prefix] = cliCommand();
    return [command, ...prefix, "serve", "--stdio", "-q", "--root", cache].map(shellQuote).join(" ");
  };

  it("keeps them in the cache root; a record it cannot read is rewritten, not an error", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/d/": "", "src/d/f": "f" });
    const push = (...extra: string[]) =>
      cli(["push", `${tmp.dir}/src`, "--exec", server(`${tmp.dir}/cache`), "--root", `${tmp.dir}/client`, ...extra]);
    const files = () => nodeFs.readdirSync(`${tmp.dir}/client/listings`);
    // Directories changed within RACY_MS of a walk get no key, and no listing to keep.
    await sleep(RACY_MS + 300);
    assert.equal((await push("--no-listings")).code, 0);
    assert.equal(nodeFs.existsSync(`${tmp.dir}/client/listings`), false);
    assert.equal((await push()).code, 0);
    assert.equal(files().length, 1);
    const file = `${tmp.dir}/client/listings/${files()[0]}`;
    nodeFs.writeFileSync(file, "{ not json");
    const again = await push("--json");
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).bytesSent, 0);
    assert.doesNotThrow(() => JSON.parse(nodeFs.readFileSync(file, "utf8")));
  });

  it("leaves them as they are after a push that found no directory changed", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/d/": "", "src/d/f": "f" });
    const push = () =>
      cli(["push", `${tmp.dir}/src`, "--exec", server(`${tmp.dir}/cache`), "--root", `${tmp.dir}/client`]);
    // Directories changed within RACY_MS of a walk get no key: let the tree settle.
    await sleep(RACY_MS + 300);
    assert.equal((await push()).code, 0);
    const [name] = nodeFs.readdirSync(`${tmp.dir}/client/listings`);
    const file = `${tmp.dir}/client/listings/${name}`;
    const before = nodeFs.statSync(file);
    nodeFs.appendFileSync(`${tmp.dir}/src/d/f`, "more");
    const again = await push();
    assert.equal(again.code, 0, again.stderr);
    // not written again: the same file, untouched (a rewrite is a new file renamed over it)
    assert.equal(nodeFs.statSync(file).ino, before.ino);
    nodeFs.writeFileSync(`${tmp.dir}/src/d/g`, "g");
    await sleep(RACY_MS + 300);
    assert.equal((await push()).code, 0);
    assert.notEqual(nodeFs.statSync(file).ino, before.ino, "a directory changed: written again");
  });

  it("names them by the escaped path, and takes over one an earlier version named by its hash", async () => {
    using tmp = tempDir();
    const long = `${tmp.dir}/${"l".repeat(210)}`;
    writeTree(disk, tmp.dir, { "src/": "", "src/d/": "", "src/d/f": "f" });
    writeTree(disk, long, { "d/": "", "d/f": "f" });
    const push = (dir: string) =>
      cli(["push", dir, "--json", "--exec", server(`${tmp.dir}/cache`), "--root", `${tmp.dir}/client`]);
    const files = () => nodeFs.readdirSync(`${tmp.dir}/client/listings`).sort();
    await sleep(RACY_MS + 300);
    assert.equal((await push(`${tmp.dir}/src`)).code, 0);
    const escaped = `${encodeURIComponent(`${tmp.dir}/src`)}.json`;
    assert.deepEqual(files(), [escaped]);
    // As an earlier version saved it.
    const hashed = `${createHash("sha256").update(`${tmp.dir}/src`).digest("hex").slice(0, 32)}.json`;
    nodeFs.renameSync(`${tmp.dir}/client/listings/${escaped}`, `${tmp.dir}/client/listings/${hashed}`);
    const before = nodeFs.statSync(`${tmp.dir}/client/listings/${hashed}`);
    const again = await push(`${tmp.dir}/src`);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).bytesSent, 0);
    // Moved, not written again: nothing changed, so the listings were used as they were.
    assert.deepEqual(files(), [escaped]);
    assert.equal(nodeFs.statSync(`${tmp.dir}/client/listings/${escaped}`).ino, before.ino);
    // A path too long to be a file name is named by its hash.
    assert.equal((await push(long)).code, 0);
    const longName = `${createHash("sha256").update(long).digest("hex").slice(0, 32)}.json`;
    assert.deepEqual(files(), [escaped, longName].sort());
  });

  it("writes none into a directory that is not a cache root, and the push still succeeds", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/f": "f", "other/": "", "other/mine.txt": "mine" });
    const r = await cli(["push", `${tmp.dir}/src`, "--exec", server(`${tmp.dir}/cache`), "--root", `${tmp.dir}/other`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(nodeFs.readdirSync(`${tmp.dir}/other`), ["mine.txt"]);
  });
});
