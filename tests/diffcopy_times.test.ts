/**
 * Times through the diff-copy protocol, hop after hop (a push, then a pull of what was
 * pushed): microseconds kept exactly (Deno's `node:fs`: milliseconds), every time in its
 * millisecond, however near the next, times before 1970 to the millisecond, times past int64 nanoseconds held at its end instead of
 * wrapping, and a symlink whose own mtime alone changed updated.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import { disk, pipeSync, tempDir } from "./_diffcopy.ts";

const deno = "Deno" in globalThis;
const micros = (path: string) => Math.round(nodeFs.lstatSync(path).mtimeMs * 1000);

/** Pushes `src` into `dst`, then `dst` into `again`: two receives. */
async function twoHops(src: string, dst: string, again: string): Promise<void> {
  for (const dir of [dst, again]) nodeFs.mkdirSync(dir);
  await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
  await pipeSync({ fs: disk, root: dst }, { fs: disk, dest: again });
}

describe("diff-copy times", () => {
  it("keeps microseconds across two receives (Deno: milliseconds)", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    nodeFs.mkdirSync(src);
    // ~1,000 times: the float nearest a microsecond is below it about half of the time
    for (let i = 0; i < 1000; i++) {
      const path = `${src}/f${i}`;
      nodeFs.writeFileSync(path, "");
      const us = 1_700_000_000_255_839 + i * 7_919;
      nodeFs.utimesSync(path, us / 1e6 + 2.5e-7, us / 1e6 + 2.5e-7);
    }
    await twoHops(src, `${tmp.dir}/dst`, `${tmp.dir}/again`);
    for (let i = 0; i < 1000; i++) {
      const want = micros(`${src}/f${i}`);
      for (const hop of ["dst", "again"]) {
        const got = micros(`${tmp.dir}/${hop}/f${i}`);
        if (deno) assert.ok(Math.abs(got - want) < 1000, `f${i} after ${hop}: ${got} against ${want}`);
        else assert.equal(got, want, `f${i} after ${hop}`);
      }
    }
  });

  it("keeps a time in its millisecond when its nanoseconds are a hair short of the next", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    nodeFs.mkdirSync(`${src}/dir`, { recursive: true });
    // Nearest to the next millisecond's first microsecond: as a file system stamps a new
    // file about once in two thousand (its clock ticks in nanoseconds)
    const stamps = { "dir/a": "@1796107967.808999700", "dir/b": "@1796107967.999999700", dir: "@1796107968.000999501" };
    for (const [path, stamp] of Object.entries(stamps)) {
      if (path !== "dir") nodeFs.writeFileSync(`${src}/${path}`, path);
      execFileSync("touch", ["-d", stamp, `${src}/${path}`]);
    }
    await twoHops(src, `${tmp.dir}/dst`, `${tmp.dir}/again`);
    for (const path of Object.keys(stamps)) {
      const want = Math.floor(nodeFs.lstatSync(`${src}/${path}`).mtimeMs);
      assert.equal(want % 1000, { "dir/a": 808, "dir/b": 999, dir: 0 }[path], `${path} as read`);
      for (const hop of ["dst", "again"]) {
        assert.equal(Math.floor(nodeFs.lstatSync(`${tmp.dir}/${hop}/${path}`).mtimeMs), want, `${path} after ${hop}`);
      }
    }
  });

  it("keeps a time before 1970 to the millisecond, the same after each receive", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    nodeFs.mkdirSync(src);
    nodeFs.writeFileSync(`${src}/old`, "");
    // 1969-12-31T23:59:58.968054851Z, nearer to -1032 ms than to -1031
    execFileSync("touch", ["-d", "@-1.031945149", `${src}/old`]);
    // Deno's lstat reads it as -1031 (whole milliseconds, toward 1970), Node's as -1031.945149
    const read = Math.round(nodeFs.lstatSync(`${src}/old`).mtimeMs);
    assert.equal(read, deno ? -1031 : -1032);
    await twoHops(src, `${tmp.dir}/dst`, `${tmp.dir}/again`);
    for (const hop of ["dst", "again"]) assert.equal(nodeFs.lstatSync(`${tmp.dir}/${hop}/old`).mtimeMs, read, hop);
  });

  it("holds a time past 2262 at the end of int64 nanoseconds instead of wrapping to 1901", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    nodeFs.mkdirSync(src);
    nodeFs.mkdirSync(dst);
    nodeFs.writeFileSync(`${src}/future`, "x");
    const year2300 = Date.UTC(2300, 0, 1) / 1000;
    nodeFs.utimesSync(`${src}/future`, year2300, year2300);
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    const got = nodeFs.lstatSync(`${dst}/future`).mtimeMs;
    const end = Number(2n ** 63n - 1n) / 1e6; // 2262-04-11T23:47:16.854775807Z
    assert.ok(Math.abs(got - end) <= 1, `${new Date(got).toISOString()}`);
  });

  it("updates a symlink whose own mtime alone changed", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    const dst = `${tmp.dir}/dst`;
    nodeFs.mkdirSync(src);
    nodeFs.mkdirSync(dst);
    nodeFs.symlinkSync("target", `${src}/l`);
    nodeFs.lutimesSync(`${src}/l`, 1_577_836_800, 1_577_836_800);
    await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    nodeFs.lutimesSync(`${src}/l`, 1_643_760_000, 1_643_760_000);
    const { updater } = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assert.deepEqual(
      updater.changes.map((c) => [c.kind, c.path]),
      [["modify", "l"]],
    );
    assert.equal(nodeFs.lstatSync(`${dst}/l`).mtimeMs, 1_643_760_000_000);
    const again = await pipeSync({ fs: disk, root: src }, { fs: disk, dest: dst });
    assert.deepEqual(again.updater.changes, []);
  });
});
