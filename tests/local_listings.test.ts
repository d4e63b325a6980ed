/**
 * A repeat local sync takes the listing of a directory whose inode and ctime are as
 * recorded from the record, instead of reading it (`transports/local/recorded_listings.ts`):
 * what it still finds, when it reads again, and what the record keeps.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs";
import { after, before, describe, it } from "node:test";
import { diskFs } from "../backends/disk_fs.ts";
import { RACY_MS } from "../core/listing_key.ts";
import { RecordedTable } from "../core/recorded_table.ts";
import type { EntryStat, RecordedEntry } from "../core/types.ts";
import { type FileSystem, FSCache, fileSystemFrom, LocalTransport, type NodeStyleFs, nodeSha256 } from "../mod.ts";
import { diskPrefetcher } from "../transports/local/prefetch.ts";
import { RecordedListings } from "../transports/local/recorded_listings.ts";
import type { SyncFs } from "../transports/local/sync_fs.ts";
import { STAT_FIELDS, type WalkResult, walkTree } from "../transports/local/walk.ts";
import { tempDir } from "./_diffcopy.ts";
import {
  assertSameTree,
  freshChecksums,
  generateTree,
  RecordingTree,
  recordEntries,
  syncOnce,
} from "./_local_helpers.ts";

const disk = fileSystemFrom(nodeFs);

/** `node:fs` with every `readdirSync` noted: not the disk itself to the transport, so it walks inline. */
function countingFs(): { fs: FileSystem; reads: string[] } {
  const reads: string[] = [];
  const module = {
    ...nodeFs,
    readdirSync: (path: string, options?: unknown) => {
      reads.push(String(path));
      return (nodeFs.readdirSync as (p: string, o?: unknown) => unknown)(path, options);
    },
  };
  return { fs: fileSystemFrom(module as unknown as NodeStyleFs), reads };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A source, its snapshot and a transport counting the source's directory reads. */
interface Case {
  src: string;
  dest: string;
  tree: RecordingTree;
  reads: string[];
  transport: LocalTransport;
  sync(options?: { previous?: boolean }): Promise<RecordingTree>;
  /** Source directories read by the last sync, relative to the source (`""`: the root). */
  read(): string[];
}

describe("LocalTransport reusing recorded listings", () => {
  const tmp = tempDir();
  const cases: Case[] = [];
  const make = (name: string, options: ConstructorParameters<typeof LocalTransport>[0] = {}): Case => {
    const src = `${tmp.dir}/${name}/src`;
    const dest = `${tmp.dir}/${name}/snap`;
    const { fs, reads } = countingFs();
    const transport = new LocalTransport({ sourceFs: fs, ...options });
    const tree = new RecordingTree();
    const c: Case = {
      src,
      dest,
      tree,
      reads,
      transport,
      sync: (o = { previous: true }) => {
        reads.length = 0;
        return syncOnce(transport, src, dest, disk, tree, o);
      },
      read: () =>
        reads
          .filter((p) => p === src || p.startsWith(`${src}/`))
          .map((p) => p.slice(src.length + 1))
          .sort(),
    };
    cases.push(c);
    return c;
  };
  const plain = make("plain");
  const added = make("added");
  const removed = make("removed");
  const replaced = make("replaced");
  const excluding = make("excluding", { excludes: ["**/*.log"] });
  const off = make("off", { reuseListings: false });
  const racy = make("racy");
  const cached = make("cached");
  const walked = make("walked");
  const lean = make("lean");

  before(async () => {
    for (const [i, c] of cases.entries()) {
      nodeFs.mkdirSync(c.src, { recursive: true });
      nodeFs.mkdirSync(c.dest);
      generateTree(disk, c.src, 40 + i, 24, 2000);
    }
    nodeFs.writeFileSync(`${excluding.src}/a/b/kept.log`, "log");
    nodeFs.utimesSync(`${excluding.src}/a/b`, 1_600_000_000, 1_600_000_000);
    // Directories changed within RACY_MS of a walk get no key: let the trees settle.
    await sleep(RACY_MS + 300);
    for (const c of cases) await c.sync({ previous: false });
    // Changes the next syncs must find by a directory's inode and ctime alone: each
    // directory's mtime is set back, and the changes settle before those syncs.
    nodeFs.writeFileSync(`${added.src}/a/b/new.txt`, "new");
    nodeFs.utimesSync(`${added.src}/a/b`, 1_600_000_000, 1_600_000_000 + 7);
    nodeFs.rmSync(`${removed.src}/d/f4.txt`);
    nodeFs.utimesSync(`${removed.src}/d`, 1_600_000_000, 1_600_000_000 + 7);
    const copy = `${replaced.src}-copy`;
    execFileSync("cp", ["-a", replaced.src, copy]);
    nodeFs.writeFileSync(`${copy}/d/e/extra.txt`, "extra");
    nodeFs.utimesSync(`${copy}/d/e`, 1_600_000_000, 1_600_000_000 + 7);
    nodeFs.renameSync(replaced.src, `${replaced.src}-old`);
    nodeFs.renameSync(copy, replaced.src);
    await sleep(RACY_MS + 300);
  });
  after(() => tmp[Symbol.dispose]());

  it("a no-op resync reads only the root, and records nothing", async () => {
    await plain.sync();
    assert.deepEqual(plain.read(), [""]);
    assert.deepEqual(plain.tree.changes, []);
    assert.deepEqual(plain.tree.rekeyed, []);
  });

  it("still finds a changed file in a directory it did not read", async () => {
    nodeFs.appendFileSync(`${plain.src}/a/b/f2.txt`, "more");
    await plain.sync();
    assert.deepEqual(plain.read(), [""]);
    assert.deepEqual(plain.tree.summary(), ["modify a/b/f2.txt"]);
    assertSameTree(disk, plain.src, disk, plain.dest);
  });

  it("reads a directory whose entries changed though its mtime was set back", async () => {
    await added.sync();
    assert.deepEqual(added.read(), ["", "a/b"]);
    assert.deepEqual(added.tree.summary(), ["add a/b/new.txt"]);
    await removed.sync();
    assert.deepEqual(removed.read(), ["", "d"]);
    assert.deepEqual(removed.tree.summary(), ["delete d/f4.txt"]);
    for (const c of [added, removed]) {
      assertSameTree(disk, c.src, disk, c.dest);
      assert.deepEqual(c.tree.checksums(), freshChecksums(disk, c.dest));
    }
    // Recorded again with its new key (not counted as a change): the next sync reads it no more.
    assert.deepEqual(added.tree.rekeyed, ["a/b"]);
    await added.sync();
    assert.deepEqual(added.read(), [""]);
  });

  it("reads every directory of a source replaced by a copy with the same mtimes", async () => {
    await replaced.sync();
    assert.deepEqual(replaced.read(), ["", "a", "a/b", "a/b/c", "a/empty2", "d", "d/e", "empty"]);
    assert.deepEqual(replaced.tree.summary(), ["add d/e/extra.txt"]);
    assertSameTree(disk, replaced.src, disk, replaced.dest);
  });

  it("reads every directory when the excludes change", async () => {
    await excluding.sync();
    assert.deepEqual(excluding.read(), [""]);
    const { fs, reads } = countingFs();
    await syncOnce(new LocalTransport({ sourceFs: fs }), excluding.src, excluding.dest, disk, excluding.tree, {
      previous: true,
    });
    assert.equal(reads.length, 8, "the root and its seven directories");
    assert.deepEqual(excluding.tree.summary(), ["add a/b/kept.log"]);
    assertSameTree(disk, excluding.src, disk, excluding.dest);
  });

  it("reads every directory with reuseListings: false", async () => {
    await off.sync();
    assert.deepEqual(off.read(), ["", "a", "a/b", "a/b/c", "a/empty2", "d", "d/e", "empty"]);
    assert.deepEqual(off.tree.changes, []);
  });

  it("keys a directory changed just before a walk only once it has settled", async () => {
    nodeFs.writeFileSync(`${racy.src}/d/e/new.txt`, "new");
    await racy.sync();
    assert.deepEqual(racy.tree.summary({ dirs: true }), ["add d/e/new.txt", "modify d/e"]);
    assert.equal(racy.tree.get("d/e")?.stat?.listingKey, undefined, "changed too recently for a key");
    await racy.sync();
    assert.deepEqual(racy.read(), ["", "d/e"]);
    assert.deepEqual(racy.tree.changes, []);
    await sleep(RACY_MS + 300);
    await racy.sync();
    assert.deepEqual(racy.tree.changes, [], "recorded again, not counted as a change");
    assert.deepEqual(racy.tree.rekeyed, ["d/e"]);
    await racy.sync();
    assert.deepEqual(racy.read(), [""]);
  });

  it("walks from the record exactly what reading every directory gives, and reads ahead the changed files", () => {
    const { fs, reads } = countingFs();
    const sync = fs as unknown as SyncFs;
    const record = RecordedTable.fromEntries(recordEntries(walkTree(sync, walked.src)));
    nodeFs.appendFileSync(`${walked.src}/a/b/c/f3.txt`, "more");
    nodeFs.appendFileSync(`${walked.src}/f0.txt`, "more");
    // a/b is read again (its entries changed), between a and a/b/c walked from the record.
    nodeFs.writeFileSync(`${walked.src}/a/b/new.txt`, "new");
    const prefetched: string[] = [];
    reads.length = 0;
    const fromRecord = walkTree(sync, walked.src, {
      listings: new RecordedListings(record),
      prefetch: (path) => prefetched.push(path),
    });
    assert.deepEqual(reads, [walked.src, `${walked.src}/a/b`], "only the root and a/b read");
    assert.deepEqual(fromRecord, walkTree(sync, walked.src));
    // Only from directories walked from the record: f0.txt is in the root, which is read.
    assert.deepEqual(prefetched, ["a/b/c/f3.txt"]);
  });

  it("on the disk takes recorded files the short way, and an entry gone or of another kind the long way", () => {
    // The disk's own calls, each counted: `lstatInto` is the short way, for files.
    const calls = { lstatSync: 0, lstatInto: 0 };
    const counted: SyncFs = {
      ...diskFs,
      lstatSync: (path) => {
        calls.lstatSync++;
        return diskFs.lstatSync(path);
      },
      lstatInto: (path, out, at) => {
        calls.lstatInto++;
        return diskFs.lstatInto(path, out, at);
      },
    };
    const longWay: SyncFs = { ...diskFs, lstatInto: undefined };
    const entries = recordEntries(walkTree(longWay, lean.src));
    // What the record says differs from the disk where no directory's ctime can show it:
    // a symlink and an empty directory recorded as files, a file recorded that is gone.
    const asFile = (path: string) => {
      const entry = entries.find(([p]) => p === path) as [string, RecordedEntry];
      entry[1] = { ...entry[1], stat: { ...(entry[1].stat as EntryStat), mode: 0o100644, size: 1 } };
    };
    asFile("a/outside");
    asFile("a/empty2");
    const lastInC = entries.findLastIndex(([p]) => p.startsWith("a/b/c/"));
    entries.splice(lastInC + 1, 0, [
      "a/b/c/zz-gone.txt",
      { checksum: "0".repeat(64), stat: { mode: 0o100644, uid: 0, gid: 0, size: 1, mtimeMs: 1 } },
    ]);
    const record = RecordedTable.fromEntries(entries);
    nodeFs.appendFileSync(`${lean.src}/a/b/c/f3.txt`, "more");
    nodeFs.appendFileSync(`${lean.src}/d/e/f5.txt`, "more");
    const walk = (fs: SyncFs, prefetched: string[]) =>
      walkTree(fs, lean.src, { listings: new RecordedListings(record), prefetch: (path) => prefetched.push(path) });
    const [short, long] = [[] as string[], [] as string[]];
    const shortWalk = walk(counted, short);
    assert.deepEqual(shortWalk, walkTree(longWay, lean.src), "what reading every directory finds");
    assert.deepEqual(shortWalk, walk(longWay, long), "what the long way takes from the record");
    assert.deepEqual(short, ["a/b/c/f3.txt", "d/e/f5.txt"]);
    assert.deepEqual(short, long);
    // Every recorded file below the root (whose listing is read) went the short way; the
    // root, its entries, the directories and symlinks below it, and the two recorded as
    // files the long way.
    const kindOf = (walk: WalkResult, i: number) => (walk.stats[i * STAT_FIELDS] as number) & 0o170000;
    const recordedFiles = entries.filter(
      ([p, e]) => p.includes("/") && ((e.stat as EntryStat).mode & 0o170000) === 0o100000,
    );
    assert.equal(calls.lstatInto, recordedFiles.length);
    const rootEntries = shortWalk.paths.filter((p) => !p.includes("/"));
    const dirsAndLinks = shortWalk.paths.filter((p, i) => p.includes("/") && kindOf(shortWalk, i) !== 0o100000);
    assert.deepEqual(dirsAndLinks, ["a/b", "a/b/c", "a/b/dangling", "a/empty2", "a/outside", "d/e"]);
    assert.equal(calls.lstatSync, 1 + rootEntries.length + dirsAndLinks.length);
  });

  it("through FSCache, keeps the listing keys in the stored tree, across a reopen", async () => {
    const root = `${cached.dest}-cache`;
    const sync = async (key: string) => {
      const cache = await FSCache.open({ root, gcInterval: 0 });
      cache.registerTransport("counted", cached.transport);
      try {
        cached.reads.length = 0;
        const source = await cache.syncFrom({ key, sharedKey: "s", transport: "counted", path: cached.src });
        await source.close();
        return cached.read();
      } finally {
        await cache.close();
      }
    };
    assert.equal((await sync("k1")).length, 8, "a first sync reads every directory");
    assert.deepEqual(await sync("k2"), [""]);
    assert.deepEqual(await sync("k3"), [""]);
  });
});

describe("RecordedListings", () => {
  const dir = (listingKey?: number): EntryStat => ({
    mode: 0o40755,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeMs: 1,
    ...(listingKey === undefined ? {} : { listingKey }),
  });
  const file: EntryStat = { mode: 0o100644, uid: 0, gid: 0, size: 1, mtimeMs: 1 };
  const sum = (s: string) => {
    const h = nodeSha256();
    h.update(s);
    return h.digest();
  };
  const table = (entries: [string, EntryStat][]) =>
    RecordedTable.fromEntries(entries.map(([path, stat]) => [path, { checksum: sum(path), stat }]));

  it("tells a directory recorded with a key, and where its recorded entries end", () => {
    const listings = new RecordedListings(
      table([
        ["a", dir(11)],
        ["a/b", dir(12)],
        ["a/b/x", file],
        ["a/c", file],
        ["a/n", dir()],
        ["a/n/y", file],
        ["a.z", file],
        ["e", dir(13)],
      ]),
    );
    assert.equal(listings.search("a/n/y"), 5);
    assert.equal(listings.search("a/zz"), -1);
    assert.ok(listings.matches(0, 11));
    assert.ok(!listings.matches(0, 12), "another key");
    assert.ok(!listings.matches(0, Number.NaN));
    assert.ok(!listings.matches(4, Number.NaN), "recorded without a key");
    assert.ok(!listings.matches(3, 11), "not a directory");
    assert.ok(!listings.matches(-1, 11), "not recorded");
    assert.deepEqual(
      [0, 1, 3, 4, 7].map((i) => listings.end(i)),
      [6, 3, 4, 6, 8],
    );
    assert.ok(listings.below(2, "a") && !listings.below(6, "a") && !listings.below(8, "a"));
    assert.ok(listings.changed(3, 2, 1) && listings.changed(3, 1, 2) && !listings.changed(3, 1, 1));
  });

  it("a fold that changes a directory's children without recording it voids its key", () => {
    const before = table([
      ["a", dir(11)],
      ["a/x", file],
      ["b", dir(21)],
      ["b/y", file],
      ["c", dir(31)],
    ]);
    const keyOf = (t: RecordedTable, path: string) => t.get(path)?.stat?.listingKey;
    const modified = before.withChanges([{ kind: "modify", path: "a/x", checksum: sum("new"), stat: file }]);
    assert.equal(keyOf(modified, "a"), 11, "a changed file leaves the listing as it was");
    const changed = before.withChanges([
      { kind: "add", path: "a/new", checksum: sum("n"), stat: file },
      { kind: "delete", path: "b/y" },
      { kind: "modify", path: "c", checksum: sum("c"), stat: dir(32) },
      { kind: "add", path: "c/z", checksum: sum("z"), stat: file },
    ]);
    assert.equal(keyOf(changed, "a"), undefined);
    assert.equal(keyOf(changed, "b"), undefined);
    assert.equal(keyOf(changed, "c"), 32, "recorded again with the change: its own key");
    assert.ok(new RecordedListings(changed).matches(changed.search("c"), 32));
  });
});

describe("diskPrefetcher", () => {
  it("never fails, whatever a snapshot path holds, and changes nothing in the snapshot", async () => {
    const tmp = tempDir();
    try {
      const snapshot = `${tmp.dir}/snapshot`;
      nodeFs.mkdirSync(`${snapshot}/d`, { recursive: true });
      nodeFs.writeFileSync(`${snapshot}/a.txt`, "old");
      const before = nodeFs.readdirSync(snapshot, { recursive: true }).sort();
      const prefetch = diskPrefetcher(snapshot);
      // A path there may be a file, a directory, nothing, or a name that is not UTF-8,
      // and the walk may hand it more paths at once than it looks up at once.
      for (const path of ["a.txt", "d", "missing", "d/missing/x", "x\udcff"]) prefetch(path);
      for (let i = 0; i < 200; i++) prefetch(`many/${i}`);
      await sleep(100);
      assert.deepEqual(nodeFs.readdirSync(snapshot, { recursive: true }).sort(), before);
      assert.equal(nodeFs.readFileSync(`${snapshot}/a.txt`, "utf8"), "old");
    } finally {
      tmp[Symbol.dispose]();
    }
  });
});
