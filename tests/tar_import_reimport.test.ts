/**
 * Tar import against what `tar -x` would leave, where an earlier import is already there:
 * content changed under the same stats, hard links split into files, directory times, hard
 * links sorted before their file, global PAX headers, and an empty input.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { tarSum } from "../backends/tarsum_stream.ts";
import { FSCacheError } from "../core/errors.ts";
import { importTar } from "../transports/tar/tar_import.ts";
import { disk, listTree, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { type RawTarEntry, tarArchive } from "./_tar_writer.ts";

const text = (s: string) => new TextEncoder().encode(s);
const file = (name: string, content: string, mtime = 0): RawTarEntry => ({ name, mtime, content: text(content) });
const dir = (name: string, mtime: number): RawTarEntry => ({ name, mode: 0o755, mtime, typeflag: "5" });
const seconds = (path: string) => disk.lstatSync(path).mtimeMs / 1000;

/** One PAX record, its length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length++;
  return `${length}${body}`;
}

describe("tar import over an earlier import", () => {
  it("rewrites a file whose content changed while its size, mode and mtime did not (SOURCE_DATE_EPOCH)", async () => {
    using tmp = tempDir();
    await importTar([tarArchive([file("VERSION", "version=1.2.3\n")])], {
      fs: disk,
      dest: tmp.dir,
      updater: recordingUpdater(),
    });
    const next = tarArchive([file("VERSION", "version=1.2.4\n")]);
    const updater = recordingUpdater();
    const result = await importTar([next], { fs: disk, dest: tmp.dir, updater });
    assert.equal(readFileSync(`${tmp.dir}/VERSION`, "utf8"), "version=1.2.4\n");
    assert.deepEqual([result.modified, result.bytesWritten], [1, 14]);
    const sums = new Map<string, string>();
    await tarSum([next], { onEntry: (name, sum) => sums.set(name, sum) });
    assert.equal(updater.changes.find((c) => c.path === "VERSION")?.checksum, sums.get("VERSION"));
    // the same archive again: compared, found equal, nothing written
    const again = await importTar([next], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual([again.modified, again.bytesWritten], [0, 0]);
  });

  it("splits a hard link the archive now has as a file of its own, with the same bytes and times", async () => {
    using tmp = tempDir();
    const ino = (path: string) => disk.lstatSync(`${tmp.dir}/${path}`).ino;
    const linked = tarArchive([file("a", "same", 100), { name: "b", mtime: 100, typeflag: "1", linkname: "a" }]);
    await importTar([linked], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(ino("b"), ino("a"));
    const split = await importTar([tarArchive([file("a", "same", 100), file("b", "same", 100)])], {
      fs: disk,
      dest: tmp.dir,
      updater: recordingUpdater(),
    });
    assert.notEqual(ino("b"), ino("a"));
    assert.equal(split.modified, 1);
    assert.equal(readFileSync(`${tmp.dir}/b`, "utf8"), "same");
  });

  it("gives directories their header's mtime, when it alone changed and when what is below changed", async () => {
    using tmp = tempDir();
    await importTar([tarArchive([dir("d", 100), file("d/f", "f"), dir("e", 100), file("e/f", "f")])], {
      fs: disk,
      dest: tmp.dir,
      updater: recordingUpdater(),
    });
    assert.deepEqual([seconds(`${tmp.dir}/d`), seconds(`${tmp.dir}/e`)], [100, 100]);
    // d: a new entry below it; e: only its own mtime changes
    await importTar(
      [tarArchive([dir("d", 200), file("d/f", "f"), file("d/g", "g"), dir("e", 300), file("e/f", "f")])],
      {
        fs: disk,
        dest: tmp.dir,
        updater: recordingUpdater(),
      },
    );
    assert.deepEqual([seconds(`${tmp.dir}/d`), seconds(`${tmp.dir}/e`)], [200, 300]);
  });

  it("a hard link sorted before its file leaves the inode with the file's mtime, as tar -x does", async () => {
    using tmp = tempDir();
    const tar = tarArchive([
      file("z-file", "shared", 1_000_000_000),
      { name: "a-link", typeflag: "1", linkname: "z-file", mtime: 2_000_000_000 },
    ]);
    await importTar([tar], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(disk.lstatSync(`${tmp.dir}/a-link`).ino, disk.lstatSync(`${tmp.dir}/z-file`).ino);
    assert.equal(seconds(`${tmp.dir}/z-file`), 1_000_000_000);
  });

  it("skips PAX global headers whatever their name", async () => {
    using tmp = tempDir();
    const records = text(paxRecord("comment", "made by a tool"));
    for (const name of ["/tmp/GlobalHead.1", "././@PaxHeader", "pax_global_header"]) {
      const tar = tarArchive([{ name, typeflag: "g", content: records }, file("a", "a")]);
      const dest = `${tmp.dir}/${name.replace(/\W/g, "")}`;
      disk.mkdirSync(dest);
      await importTar([tar], { fs: disk, dest, updater: recordingUpdater() });
      assert.deepEqual(listTree(disk, dest, false).length, 1, name);
    }
  });

  it("refuses an empty input and keeps the snapshot; an archive of no entries empties it", async () => {
    using tmp = tempDir();
    await importTar([tarArchive([file("keep", "k")])], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    await assert.rejects(
      importTar([], { fs: disk, dest: tmp.dir, updater: recordingUpdater() }),
      (err: unknown) => err instanceof FSCacheError && err.code === "ERR_INVALID_TAR",
    );
    assert.equal(readFileSync(`${tmp.dir}/keep`, "utf8"), "k");
    const emptied = await importTar([tarArchive([])], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(emptied.deleted, 1);
  });
});
