/**
 * The walks' `lstat` (which on Node 20 skips building `Stats` objects) must answer
 * exactly as `fs.lstatSync` does: every field fscache reads, the entry's kind, and the
 * same errors with the same codes and paths.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import process from "node:process";
import { describe, it } from "node:test";
import { lstatSkipsStats, lstatSync } from "../backends/node_lstat.ts";
import { tempDir } from "./_diffcopy.ts";

const FIELDS = ["dev", "mode", "nlink", "uid", "gid", "rdev", "ino", "size", "mtimeMs"] as const;

function assertSame(path: string): void {
  const mine = lstatSync(path);
  const real = fs.lstatSync(path);
  for (const key of FIELDS) assert.equal(mine[key], real[key], `${key} of ${path}`);
  assert.equal(mine.isFile(), real.isFile(), path);
  assert.equal(mine.isDirectory(), real.isDirectory(), path);
  assert.equal(mine.isSymbolicLink(), real.isSymbolicLink(), path);
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
    for (const name of ["file", "sub", "link", "later", "hard", "."]) assertSame(`${dir}/${name}`);
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
    const node20 = !("Deno" in globalThis) && process.versions.node?.startsWith("20.") && process.platform !== "win32";
    assert.equal(lstatSkipsStats, Boolean(node20));
  });
});
