/**
 * What a copy must keep of an entry besides its bytes, in the corners where `node:fs`
 * surprises: times before 1970 (a negative number of seconds means "now" to `utimes`)
 * and set-user/group-ID bits (setting a file's owner, or writing it, clears them).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { LocalTransport } from "../mod.ts";
import { disk, pipeSync, tempDir } from "./_diffcopy.ts";
import { assertSameTree, RecordingTree, syncOnce } from "./_local_helpers.ts";

/**
 * Entries stamped in 1960 with a fraction of a second. Set with `touch`: `node:fs` would
 * need Dates for them, and Deno's `lutimes` refuses such a time outright.
 */
function oldTree(src: string): void {
  fs.mkdirSync(join(src, "dir"), { recursive: true });
  fs.writeFileSync(join(src, "dir", "file"), "old");
  fs.symlinkSync("file", join(src, "dir", "link"));
  execFileSync("touch", ["-h", "-d", "@-315619200.5", join(src, "dir", "link")]);
  execFileSync("touch", ["-d", "@-315619199.5", join(src, "dir", "file")]);
  execFileSync("touch", ["-d", "@-315619198.5", join(src, "dir")]);
}

function mtimesOf(root: string): number[] {
  return ["dir", "dir/file", "dir/link"].map((p) => fs.lstatSync(join(root, p)).mtimeMs);
}

/**
 * The copies' times: the sources' exactly, but for the link under Deno, whose `lutimes`
 * refuses a time before 1970 with a fraction of a second: it gets the second before.
 */
const COPIED = [-315_619_198_500, -315_619_199_500, "Deno" in globalThis ? -315_619_201_000 : -315_619_200_500];

describe("copies keep", () => {
  it("times before 1970 on files, directories and symlinks (local sync)", async () => {
    using tmp = tempDir();
    const [src, dst] = [join(tmp.dir, "src"), join(tmp.dir, "dst")];
    oldTree(src);
    fs.mkdirSync(dst);
    await syncOnce(new LocalTransport(), src, dst, disk, new RecordingTree());
    assertSameTree(disk, src, disk, dst, false);
    assert.deepEqual(mtimesOf(src), [-315_619_198_500, -315_619_199_500, -315_619_200_500]);
    assert.deepEqual(mtimesOf(dst), COPIED);
  });

  it("times before 1970 on files, directories and symlinks (diff-copy receive)", async () => {
    using tmp = tempDir();
    const [src, dst] = [join(tmp.dir, "src"), join(tmp.dir, "dst")];
    oldTree(src);
    fs.mkdirSync(dst);
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assert.deepEqual(mtimesOf(dst), COPIED);
  });

  it("set-user-ID and set-group-ID bits when such a file is rewritten in place", async () => {
    using tmp = tempDir();
    const [src, dst] = [join(tmp.dir, "src"), join(tmp.dir, "dst")];
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    const modes = { suid: 0o4755, sgid: 0o2755, both: 0o6711 };
    for (const [name, mode] of Object.entries(modes)) {
      fs.writeFileSync(join(src, name), "#!/bin/sh\necho one\n");
      fs.chmodSync(join(src, name), mode);
    }
    const transport = new LocalTransport();
    const tree = await syncOnce(transport, src, dst, disk, new RecordingTree());
    for (const name of Object.keys(modes)) {
      fs.writeFileSync(join(src, name), "#!/bin/sh\necho two\n");
      fs.utimesSync(join(src, name), 1_700_000_000, 1_700_000_000);
    }
    const ino = fs.statSync(join(dst, "suid")).ino;
    await syncOnce(transport, src, dst, disk, tree, { previous: true });
    assert.equal(fs.statSync(join(dst, "suid")).ino, ino, "rewritten in place");
    for (const [name, mode] of Object.entries(modes)) {
      assert.equal((fs.statSync(join(dst, name)).mode & 0o7777).toString(8), mode.toString(8), name);
    }
    assertSameTree(disk, src, disk, dst);
  });
});
