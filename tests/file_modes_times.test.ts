/**
 * What a copy must keep of an entry besides its bytes, in the corners where `node:fs`
 * surprises: times before 1970 (a negative number of seconds means "now" to `utimes`),
 * set-user/group-ID bits (setting a file's owner, or writing it, clears them), and
 * modes the umask takes bits from when a file is created with them.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { LocalTransport } from "../mod.ts";
import { diskWriteThreads } from "../transports/local/diffcopy_threads.ts";
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

  it("every file mode, new and rewritten in place, whatever the umask takes (local sync)", async () => {
    const transport = new LocalTransport();
    let tree: RecordingTree | undefined;
    await assertModesKept(async (src, dst) => {
      tree = await syncOnce(transport, src, dst, disk, tree ?? new RecordingTree(), { previous: tree !== undefined });
    });
  });

  it("every file mode, new and rewritten in place, whatever the umask takes (diff-copy receive)", async () => {
    await assertModesKept(async (src, dst) => {
      await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    });
  });

  it("every file mode, new and rewritten in place, whatever the umask takes (receive in write threads)", async () => {
    // Threads that take every change set, however small.
    const threads = Object.assign(diskWriteThreads(2), { minFiles: 1 });
    try {
      await assertModesKept(async (src, dst) => {
        await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst }, { writeThreads: threads });
      });
    } finally {
      await threads.close();
    }
  });

  it("a receive writes into new directories open to their owner, though the umask takes owner bits", async () => {
    using tmp = tempDir();
    const [src, dst] = [join(tmp.dir, "src"), join(tmp.dir, "dst")];
    fs.mkdirSync(dst);
    for (const [dir, mode] of [
      ["a", 0o755],
      ["a/b", 0o555],
      ["c", 0o700],
    ] as const) {
      fs.mkdirSync(join(src, dir), { recursive: true });
      fs.writeFileSync(join(src, dir, "f"), dir);
      fs.chmodSync(join(src, dir), mode);
    }
    // What each file's directory allowed its owner when the file was created in it.
    const opened: string[] = [];
    const watched = {
      ...disk,
      openSync: ((path: string, ...rest: unknown[]) => {
        const mode = fs.statSync(path.slice(0, path.lastIndexOf("/"))).mode & 0o700;
        opened.push(`${path.slice(dst.length + 1)} ${mode.toString(8)}`);
        return (disk.openSync as (...args: unknown[]) => number)(path, ...rest);
      }) as typeof disk.openSync,
    };
    const umask = process.umask(0o277);
    try {
      await pipeSync({ fs: disk, root: src }, { fs: watched, dest: dst });
    } finally {
      process.umask(umask);
      for (const dir of ["a/b", "a", "c"]) {
        for (const root of [src, dst]) if (fs.existsSync(join(root, dir))) fs.chmodSync(join(root, dir), 0o755);
      }
    }
    assert.deepEqual(opened.sort(), ["a/b/f 700", "a/f 700", "c/f 700"]);
  });
});

/**
 * File modes a copy must give exactly. Under the umask set below, a file created with
 * any of the first five loses bits; the others lack owner write, or have the sticky or
 * set-user-ID bit.
 */
const MODES = [0o666, 0o777, 0o664, 0o644, 0o755, 0o640, 0o600, 0o444, 0o555, 0o1755, 0o4755];
/** Directory modes, each with a file inside: the same umask takes bits from the first three. */
const DIR_MODES = [0o777, 0o775, 0o755, 0o750, 0o700, 0o555, 0o1777];
const asRoot = process.getuid?.() === 0;

/**
 * Copies a tree of files in `MODES` and directories in `DIR_MODES` with `copy` under
 * umask 027, then again after every file got new content and every entry the next
 * one's mode (files rewritten in place), and checks the copies' modes both times. The
 * umask is put back after.
 */
async function assertModesKept(copy: (src: string, dst: string) => Promise<void>): Promise<void> {
  using tmp = tempDir();
  const [src, dst] = [join(tmp.dir, "src"), join(tmp.dir, "dst")];
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const names = MODES.map((mode) => `m${mode.toString(8)}`);
  const dirs = DIR_MODES.map((mode) => `d${mode.toString(8)}`);
  const umask = process.umask(0o027);
  try {
    for (const [round, shift] of [
      [1, 0],
      [2, 1],
    ] as const) {
      names.forEach((name, i) => {
        const path = join(src, name);
        if (round === 2) fs.chmodSync(path, 0o600);
        fs.writeFileSync(path, `#!/bin/sh\necho ${round}\n`);
        fs.chmodSync(path, MODES[(i + shift) % MODES.length] as number);
        fs.utimesSync(path, 1_700_000_000 + round, 1_700_000_000 + round);
      });
      dirs.forEach((name, i) => {
        const path = join(src, name);
        if (round === 1) fs.mkdirSync(path);
        else fs.chmodSync(path, 0o700);
        fs.writeFileSync(join(path, "f"), `${round}\n`);
        fs.chmodSync(path, DIR_MODES[(i + shift) % DIR_MODES.length] as number);
      });
      const inodes = names.map((name) => fs.statSync(join(dst, name), { throwIfNoEntry: false })?.ino);
      await copy(src, dst);
      names.forEach((name, i) => {
        const st = fs.statSync(join(dst, name));
        const want = (MODES[(i + shift) % MODES.length] as number).toString(8);
        assert.equal((st.mode & 0o7777).toString(8), want, `${name}, copy ${round}`);
        assert.equal(fs.readFileSync(join(dst, name), "utf8"), `#!/bin/sh\necho ${round}\n`);
        // One that was not writable is replaced instead, unless root writes it.
        const writable = asRoot || ((MODES[i] as number) & 0o200) !== 0;
        if (round === 2 && writable) assert.equal(st.ino, inodes[i], `${name} rewritten in place`);
      });
      dirs.forEach((name, i) => {
        const want = (DIR_MODES[(i + shift) % DIR_MODES.length] as number).toString(8);
        assert.equal((fs.statSync(join(dst, name)).mode & 0o7777).toString(8), want, `${name}, copy ${round}`);
        assert.equal(fs.readFileSync(join(dst, name, "f"), "utf8"), `${round}\n`);
      });
    }
  } finally {
    process.umask(umask);
    // A read-only directory would keep a user who is not root from removing the tree.
    for (const root of [src, dst]) {
      for (const name of dirs) if (fs.existsSync(join(root, name))) fs.chmodSync(join(root, name), 0o755);
    }
  }
}
