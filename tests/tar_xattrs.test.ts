/**
 * PAX `SCHILY.xattr.*` records in an imported tar: kept in the entry checksums (as
 * `tarsum --entries` hashes them), not written to disk (neither Node nor Deno has an
 * xattr API), and never a reason to report or rewrite an entry on a re-import.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pack } from "tar-stream";
import { tarSum } from "../backends/tarsum_stream.ts";
import { importTar } from "../transports/tar/tar_import.ts";
import { disk, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { collectBytes } from "./_helpers.ts";

async function tarWith(xattrs: Record<string, string> | undefined): Promise<Uint8Array> {
  const archive = pack();
  const base = { mtime: new Date(1_600_000_000_000), uid: 0, gid: 0 };
  archive.entry({ ...base, name: "dir/", type: "directory", mode: 0o755 });
  const pax = xattrs && Object.fromEntries(Object.entries(xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v]));
  archive.entry({ ...base, name: "dir/tagged.txt", type: "file", mode: 0o644, ...(pax ? { pax } : {}) }, "content");
  archive.entry({ ...base, name: "plain.txt", type: "file", mode: 0o644 }, "plain");
  archive.finalize();
  return collectBytes(archive as unknown as AsyncIterable<Uint8Array>);
}

async function entrySums(tar: Uint8Array): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  await tarSum([tar], { onEntry: (name, sum) => name !== "." && sums.set(name, sum) });
  return sums;
}

describe("sync --tar with PAX xattrs", () => {
  it("hashes the xattrs as tarsum does, and a re-import reports nothing changed", async () => {
    using tmp = tempDir();
    const tagged = await tarWith({ "user.note": "hello", "user.mime_type": "text/plain" });
    const untagged = await tarWith(undefined);
    const sums = await entrySums(tagged);
    assert.notEqual(sums.get("dir/tagged.txt"), (await entrySums(untagged)).get("dir/tagged.txt"));

    const first = recordingUpdater();
    const imported = await importTar([tagged], { fs: disk, dest: tmp.dir, updater: first });
    assert.equal(imported.added, 3);
    const reported = new Map(first.changes.map((c) => [c.path, c.checksum]));
    assert.equal(reported.get("dir/tagged.txt"), sums.get("dir/tagged.txt"), "xattrs are part of the checksum");
    assert.equal(disk.readFileSync(`${tmp.dir}/dir/tagged.txt`).length, 7);

    const again = recordingUpdater();
    const reimport = await importTar([tagged], { fs: disk, dest: tmp.dir, updater: again });
    assert.deepEqual(
      { added: reimport.added, modified: reimport.modified, deleted: reimport.deleted, bytes: reimport.bytesWritten },
      { added: 0, modified: 0, deleted: 0, bytes: 0 },
      "xattrs absent on disk do not make the entry differ",
    );
    assert.equal(reimport.unchanged, 3);
    assert.equal(
      new Map(again.changes.map((c) => [c.path, c.checksum])).get("dir/tagged.txt"),
      sums.get("dir/tagged.txt"),
    );
  });

  it("an archive differing only in xattrs rewrites nothing but reports the new checksum", async () => {
    using tmp = tempDir();
    await importTar([await tarWith({ "user.note": "one" })], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    const changed = await tarWith({ "user.note": "two" });
    const updater = recordingUpdater();
    const result = await importTar([changed], { fs: disk, dest: tmp.dir, updater });
    assert.equal(result.bytesWritten, 0);
    assert.equal(result.modified, 0);
    const reported = new Map(updater.changes.map((c) => [c.path, c.checksum]));
    assert.equal(reported.get("dir/tagged.txt"), (await entrySums(changed)).get("dir/tagged.txt"));
  });
});
