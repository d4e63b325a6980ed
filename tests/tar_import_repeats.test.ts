/** Tar import of archives that name a path more than once (`tar --append`): the later entry wins. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { tarSum } from "../backends/tarsum_stream.ts";
import { FSCacheError } from "../core/errors.ts";
import { importTar } from "../transports/tar/tar_import.ts";
import { disk, listTree, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { type RawTarEntry, tarArchive } from "./_tar_writer.ts";

const text = (s: string) => new TextEncoder().encode(s);
const file = (name: string, content: string, mode = 0o644): RawTarEntry => ({ name, mode, content: text(content) });
const dir = (name: string, mode = 0o755): RawTarEntry => ({ name, mode, typeflag: "5" });

/** Each entry's `tarsum --entries` checksum, by path: for a repeated path, the last one. */
async function entrySums(tar: Uint8Array): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  await tarSum([tar], { onEntry: (name, sum) => sums.set(name.replace(/^\.\//, "").replace(/\/$/, ""), sum) });
  return sums;
}

describe("tar import: a path named again", () => {
  it("a file named again: the later content, mode and checksum win; the earlier is not written", async () => {
    using tmp = tempDir();
    const tar = tarArchive([file("a.txt", "old", 0o600), file("keep", "k"), file("./a.txt", "newer content", 0o755)]);
    const updater = recordingUpdater();
    const result = await importTar([tar], { fs: disk, dest: tmp.dir, updater });
    assert.deepEqual(
      listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, "")),
      ["a.txt 755 13", "keep 644 1"],
    );
    assert.equal(readFileSync(`${tmp.dir}/a.txt`, "utf8"), "newer content");
    assert.equal(result.entries, 2);
    assert.equal(result.bytesWritten, 14, "the earlier content was spooled, never written into the snapshot");
    const sums = await entrySums(tar);
    assert.equal(updater.changes.find((c) => c.path === "a.txt")?.checksum, sums.get("a.txt"));
  });

  it("a directory replaced by a file takes what was below it along", async () => {
    using tmp = tempDir();
    const tar = tarArchive([dir("d"), file("d/x", "x"), dir("d/sub"), file("d/sub/y", "y"), file("d", "now a file")]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual(
      listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, "")),
      ["d 644 10"],
    );
  });

  it("so does a directory only implied by the entries below it", async () => {
    using tmp = tempDir();
    const tar = tarArchive([file("d/x", "x"), file("d", "file")]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual(
      listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, "")),
      ["d 644 4"],
    );
  });

  it("a directory named again as a directory keeps its entries and takes the later mode", async () => {
    using tmp = tempDir();
    const tar = tarArchive([dir("d", 0o700), file("d/x", "x"), dir("d/", 0o750), file("d/y", "y")]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual(
      listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, "")),
      ["d/ 750", "d/x 644 1", "d/y 644 1"],
    );
  });

  it("a file replaced by a directory can then hold entries", async () => {
    using tmp = tempDir();
    const tar = tarArchive([file("p", "plain"), dir("p"), file("p/in", "in")]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual(
      listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, "")),
      ["p/ 755", "p/in 644 2"],
    );
  });

  it("refuses to replace a file that a hard link points to, and writes nothing", async () => {
    using tmp = tempDir();
    const dest = `${tmp.dir}/snap`;
    disk.mkdirSync(dest);
    const tar = tarArchive([file("a", "one"), { name: "h", typeflag: "1", linkname: "a" }, file("a", "two")]);
    await assert.rejects(
      importTar([tar], { fs: disk, dest, updater: recordingUpdater() }),
      (err: unknown) => err instanceof FSCacheError && err.code === "ERR_UNSUPPORTED" && err.path === "a",
    );
    assert.deepEqual(disk.readdirSync(dest), []);
  });

  it("a hard link that is itself replaced frees its target", async () => {
    using tmp = tempDir();
    const tar = tarArchive([
      file("a", "one"),
      { name: "h", typeflag: "1", linkname: "a" },
      file("h", "own"),
      file("a", "2"),
    ]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(readFileSync(`${tmp.dir}/a`, "utf8"), "2");
    assert.equal(readFileSync(`${tmp.dir}/h`, "utf8"), "own");
    assert.notEqual(disk.lstatSync(`${tmp.dir}/a`).ino, disk.lstatSync(`${tmp.dir}/h`).ino);
  });

  it("an archive grown with tar --append imports as GNU tar extracts it, and again unchanged", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const tar = `${tmp.dir}/ctx.tar`;
    disk.mkdirSync(`${src}/lib`, { recursive: true });
    disk.writeFileSync(`${src}/main.js`, "v1");
    disk.writeFileSync(`${src}/lib/util.js`, "util");
    execFileSync("tar", ["-C", src, "-cf", tar, "."]);
    disk.writeFileSync(`${src}/main.js`, "version two");
    disk.chmodSync(`${src}/main.js`, 0o700);
    execFileSync("touch", ["-d", "@1700000000", `${src}/main.js`]);
    execFileSync("tar", ["-C", src, "-rf", tar, "./main.js"]);
    disk.rmSync(`${src}/lib`, { recursive: true });
    disk.writeFileSync(`${src}/lib`, "no longer a directory");
    execFileSync("tar", ["-C", src, "-rf", tar, "./lib"]);
    const extracted = `${tmp.dir}/extracted`;
    disk.mkdirSync(extracted);
    // Docker removes what a non-directory replaces; GNU tar does so when asked.
    execFileSync("tar", ["-C", extracted, "--recursive-unlink", "-xf", tar]);
    const dest = `${tmp.dir}/snap`;
    disk.mkdirSync(dest);
    const first = await importTar([readFileSync(tar)], { fs: disk, dest, updater: recordingUpdater() });
    assert.deepEqual(listTree(disk, dest), listTree(disk, extracted));
    assert.equal(first.entries, 2);
    const again = await importTar([readFileSync(tar)], { fs: disk, dest, updater: recordingUpdater() });
    assert.deepEqual([again.added, again.modified, again.deleted, again.bytesWritten], [0, 0, 0, 0]);
  });
});
