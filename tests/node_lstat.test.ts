/**
 * The walks' `lstat` and the copies' `fstat` (which on Node 20 skip building `Stats`
 * objects) must answer exactly as `fs.lstatSync` and `fs.fstatSync` do: every field
 * fscache reads, the entry's kind, and the same errors with the same codes and paths.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import process from "node:process";
import { describe, it } from "node:test";
import { diskFs } from "../backends/disk_fs.ts";
import { fstatSkipsStats, fstatSync, lstatInto, lstatSkipsStats, lstatSync } from "../backends/node_lstat.ts";
import { tempDir } from "./_diffcopy.ts";

const FIELDS = ["dev", "mode", "nlink", "uid", "gid", "rdev", "ino", "size", "mtimeMs"] as const;
const node20 = !("Deno" in globalThis) && process.versions.node?.startsWith("20.") && process.platform !== "win32";

function assertSame(path: string): void {
  const mine = lstatSync(path);
  const real = fs.lstatSync(path);
  for (const key of FIELDS) assert.equal(mine[key], real[key], `${key} of ${path}`);
  assert.equal(mine.isFile(), real.isFile(), path);
  assert.equal(mine.isDirectory(), real.isDirectory(), path);
  assert.equal(mine.isSymbolicLink(), real.isSymbolicLink(), path);
}

/** Entries of every kind in `dir`, with odd mtimes; their names. */
function oddEntries(dir: string): string[] {
  fs.writeFileSync(`${dir}/file`, "x".repeat(1234));
  fs.chmodSync(`${dir}/file`, 0o4751);
  // Fractional, pre-1970 and far-future mtimes: the ms value must match to the last bit.
  fs.utimesSync(`${dir}/file`, 1.5, 1_700_000_000.123456);
  fs.mkdirSync(`${dir}/sub`);
  fs.utimesSync(`${dir}/sub`, 0, -86_400.25);
  fs.symlinkSync("file", `${dir}/link`);
  fs.writeFileSync(`${dir}/later`, "");
  fs.utimesSync(`${dir}/later`, 0, 4_102_444_800.5);
  fs.linkSync(`${dir}/file`, `${dir}/hard`);
  return ["file", "sub", "link", "later", "hard", "."];
}

function errorOf(run: () => unknown): { code?: string; path?: unknown; message: string } {
  try {
    run();
  } catch (err) {
    return err as { code?: string; path?: unknown; message: string };
  }
  assert.fail("expected a throw");
}

describe("lstatSync for the walks", () => {
  it("gives fs.lstatSync's fields for files, directories, links and odd times", () => {
    using tmp = tempDir();
    const { dir } = tmp;
    for (const name of oddEntries(dir)) assertSame(`${dir}/${name}`);
    assert.equal(lstatSync(`${dir}/file`).nlink, 2);
    assert.equal(lstatSync(`${dir}/link`).isSymbolicLink(), true);
  });

  it("throws fs.lstatSync's errors, with the code and the path", () => {
    using tmp = tempDir();
    const { dir } = tmp;
    fs.writeFileSync(`${dir}/file`, "");
    for (const path of [`${dir}/missing`, `${dir}/file/below`]) {
      const mine = errorOf(() => lstatSync(path));
      const real = errorOf(() => fs.lstatSync(path));
      assert.equal(mine.code, real.code, path);
      assert.equal(mine.path, path);
      assert.equal(mine.message, real.message);
    }
    // A NUL would cut the path short below fs's checks: it must be refused as fs refuses it.
    assert.equal(errorOf(() => lstatSync(`${dir}/file\0/x`)).code, "ERR_INVALID_ARG_VALUE");
  });

  it("reaches a name that is not UTF-8 given as bytes", {
    skip: "Deno" in globalThis ? "Deno's node:fs takes no byte paths" : false,
  }, () => {
    using tmp = tempDir();
    const { dir } = tmp;
    {
      const bytes = Buffer.concat([Buffer.from(`${dir}/a`), Buffer.from([0xff])]);
      fs.writeFileSync(bytes, "xyz");
      const stats = lstatSync(bytes as unknown as string);
      assert.equal(stats.size, 3);
      assert.equal(stats.isFile(), true);
    }
  });

  it("skips building Stats objects on Node 20, where they cost the walks most", () => {
    assert.equal(lstatSkipsStats, Boolean(node20));
  });
});

describe("lstatInto for the walks' columns", () => {
  it("writes fs.lstatSync's mode, owner, size and mtime, to the last bit, and nothing around them", () => {
    using tmp = tempDir();
    const { dir } = tmp;
    for (const name of oddEntries(dir)) {
      const path = `${dir}/${name}`;
      const out = new Float64Array(9).fill(-1);
      assert.equal(lstatInto(path, out, 2), true, path);
      const real = fs.lstatSync(path);
      assert.deepEqual(Array.from(out), [-1, -1, real.mode, real.uid, real.gid, real.size, real.mtimeMs, -1, -1], path);
    }
  });

  it("answers false for a missing path, and throws fs.lstatSync's other errors", () => {
    using tmp = tempDir();
    const { dir } = tmp;
    fs.writeFileSync(`${dir}/file`, "");
    const out = new Float64Array(5).fill(-1);
    assert.equal(lstatInto(`${dir}/missing`, out, 0), false);
    assert.equal(lstatInto(`${dir}/file/below`, out, 0), false, "ENOTDIR is gone too");
    assert.deepEqual(Array.from(out), [-1, -1, -1, -1, -1], "nothing written");
    const long = `${dir}/${"n".repeat(300)}`;
    const mine = errorOf(() => lstatInto(long, out, 0));
    const real = errorOf(() => fs.lstatSync(long));
    assert.equal(mine.code, "ENAMETOOLONG");
    assert.equal(mine.code, real.code);
    assert.equal(mine.path, long);
    assert.equal(errorOf(() => lstatInto(`${dir}/file\0/x`, out, 0)).code, "ERR_INVALID_ARG_VALUE");
  });

  it("reaches a name that is not UTF-8 through diskFs", {
    skip: "Deno" in globalThis ? "Deno's node:fs takes no byte paths" : false,
  }, () => {
    using tmp = tempDir();
    fs.writeFileSync(Buffer.concat([Buffer.from(`${tmp.dir}/a`), Buffer.from([0xff])]), "xyz");
    const out = new Float64Array(5);
    assert.equal(diskFs.lstatInto(`${tmp.dir}/a\udcff`, out, 0), true);
    assert.equal(out[3], 3);
    assert.equal((out[0] as number) & 0o170000, 0o100000);
  });
});

describe("fstatSync for the copies", () => {
  it("gives fs.fstatSync's fields, blocks included, for new, written, sparse and set-ID files and directories", () => {
    using tmp = tempDir();
    const { dir } = tmp;
    const fds: number[] = [];
    try {
      fds.push(fs.openSync(`${dir}/new`, "wx", 0o640));
      const written = fs.openSync(`${dir}/written`, "w+");
      fs.writeSync(written, new Uint8Array(100_000).fill(1));
      fs.fchmodSync(written, 0o4751);
      fds.push(written);
      const sparse = fs.openSync(`${dir}/sparse`, "w+");
      fs.ftruncateSync(sparse, 10 * 2 ** 20);
      fds.push(sparse);
      fds.push(fs.openSync(dir, "r"));
      for (const fd of fds) {
        const mine = fstatSync(fd);
        const real = fs.fstatSync(fd);
        for (const key of [...FIELDS, "blocks"] as const) assert.equal(mine[key], real[key], `${key} of fd ${fd}`);
        assert.equal(mine.isFile(), real.isFile());
        assert.equal(mine.isDirectory(), real.isDirectory());
      }
      assert.ok(fstatSync(fds[2] as number).blocks < 8, "a file of holes holds no blocks");
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    assert.equal(fstatSkipsStats(), Boolean(node20));
  });

  it("throws fs.fstatSync's error for a descriptor that is not open", () => {
    using tmp = tempDir();
    const fd = fs.openSync(`${tmp.dir}/file`, "w");
    fs.closeSync(fd);
    const mine = errorOf(() => fstatSync(fd));
    const real = errorOf(() => fs.fstatSync(fd));
    assert.equal(mine.code, "EBADF");
    assert.equal(mine.code, real.code);
    assert.equal(mine.message, real.message);
  });
});
