/**
 * Source trees that used to break a snapshot for good: read-only directories synced by
 * a user who is not root (who cannot write into a 0555 directory the snapshot copied),
 * and a directory nested deeper than a recursive removal's call stack reaches.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { cli } from "./_cli.ts";
import { disk, tempDir } from "./_diffcopy.ts";
import { projectRoot } from "./_helpers.ts";
import { assertSameTree } from "./_local_helpers.ts";

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/** `fscache` (the built bin, under Node) as a user who is not root: `nobody` when we are root. */
function fscacheAsUser(args: string[]): unknown {
  const bin = join(projectRoot(), "dist/cli/main.cjs");
  const argv = asRoot
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "node", bin, ...args]
    : ["node", bin, ...args];
  return JSON.parse(execFileSync(argv[0] as string, argv.slice(1), { encoding: "utf8" }));
}

/** `fs.chmodSync` each `[path, mode]` under `root`. */
function chmodAll(root: string, modes: [string, number][]): void {
  for (const [path, mode] of modes) fs.chmodSync(join(root, path), mode);
}

describe("awkward source trees", () => {
  it("read-only directories and files sync, resync, delete and prune as a user who is not root", () => {
    using tmp = tempDir();
    if (asRoot) fs.chownSync(tmp.dir, NOBODY, NOBODY);
    const src = join(tmp.dir, "src");
    const root = join(tmp.dir, "cache");
    fs.mkdirSync(join(src, "ro", "inner"), { recursive: true });
    fs.writeFileSync(join(src, "ro", "a"), "one");
    fs.writeFileSync(join(src, "ro", "inner", "x"), "x");
    fs.writeFileSync(join(src, "top"), "top");
    if (asRoot) execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, src]);
    const readOnly: [string, number][] = [
      ["ro/a", 0o444],
      ["ro/inner/x", 0o444],
      ["ro/inner", 0o555],
      ["ro", 0o555],
    ];
    chmodAll(src, readOnly);
    const sync = () => fscacheAsUser(["--root", root, "--json", "sync", src]) as { path: string };
    const first = sync();
    assertSameTree(disk, src, disk, first.path);

    // A file added to, and one rewritten in, a read-only directory.
    chmodAll(src, [
      ["ro", 0o755],
      ["ro/a", 0o644],
    ]);
    fs.writeFileSync(join(src, "ro", "a"), "two!");
    fs.writeFileSync(join(src, "ro", "b"), "new");
    chmodAll(src, readOnly);
    const second = sync();
    assert.equal(second.path, first.path);
    assertSameTree(disk, src, disk, second.path);

    // The read-only subtree deleted.
    fs.chmodSync(join(src, "ro"), 0o755);
    fs.chmodSync(join(src, "ro", "inner"), 0o755);
    fs.rmSync(join(src, "ro"), { recursive: true });
    const third = sync();
    assertSameTree(disk, src, disk, third.path);

    // Back again, then pruned: the whole snapshot goes, read-only directories and all.
    fs.mkdirSync(join(src, "ro2", "deep"), { recursive: true });
    if (asRoot) execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, join(src, "ro2")]);
    chmodAll(src, [
      ["ro2/deep", 0o555],
      ["ro2", 0o555],
    ]);
    sync();
    const pruned = fscacheAsUser(["--root", root, "--json", "prune"]) as { freed: number };
    assert.ok(pruned.freed > 0);
    assert.deepEqual(fs.readdirSync(join(root, "snapshots")), []);
    assert.deepEqual(fscacheAsUser(["--root", root, "--json", "ls"]), []);
    chmodAll(src, [
      ["ro2/deep", 0o755],
      ["ro2", 0o755],
    ]);
  });

  it("read-only directories arrive by diff-copy receive and tar import as a user who is not root", async () => {
    using tmp = tempDir();
    if (asRoot) fs.chownSync(tmp.dir, NOBODY, NOBODY);
    const src = join(tmp.dir, "src");
    fs.mkdirSync(join(src, "ro", "empty"), { recursive: true });
    fs.writeFileSync(join(src, "ro", "f"), "one");
    const lock = () =>
      chmodAll(src, [
        ["ro/f", 0o444],
        ["ro/empty", 0o555],
        ["ro", 0o555],
      ]);
    const unlock = () =>
      chmodAll(src, [
        ["ro", 0o755],
        ["ro/empty", 0o755],
        ["ro/f", 0o644],
      ]);
    lock();
    const dst = join(tmp.dir, "dst");
    if (asRoot) {
      fs.mkdirSync(dst);
      fs.chownSync(dst, NOBODY, NOBODY);
    }
    const receive = async () => {
      const bin = join(projectRoot(), "dist/cli/main.cjs");
      const user = asRoot ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : [];
      const receiver = spawn(user[0] ?? "node", [
        ...user.slice(1),
        ...(asRoot ? ["node"] : []),
        bin,
        "diffcopy",
        "receive",
        dst,
      ]);
      const sender = spawn("node", [bin, "diffcopy", "send", src]);
      sender.stdout.pipe(receiver.stdin);
      receiver.stdout.pipe(sender.stdin);
      let err = "";
      receiver.stderr.on("data", (d) => {
        err += d;
      });
      const [code] = await Promise.all([once(receiver, "close"), once(sender, "close")]);
      assert.equal(code[0], 0, err);
    };
    await receive();
    assertSameTree(disk, src, disk, dst);
    unlock();
    fs.writeFileSync(join(src, "ro", "f"), "two!");
    fs.writeFileSync(join(src, "ro", "g"), "new");
    lock();
    fs.chmodSync(join(src, "ro", "g"), 0o444);
    await receive();
    assertSameTree(disk, src, disk, dst);

    const tar = join(tmp.dir, "src.tar");
    execFileSync("tar", ["-C", src, "-cf", tar, "."]);
    if (asRoot) fs.chownSync(tar, NOBODY, NOBODY);
    const imported = fscacheAsUser(["--root", join(tmp.dir, "cache"), "--json", "sync", "--tar", tar]) as {
      path: string;
    };
    for (const [path, mode] of [
      ["ro", 0o555],
      ["ro/empty", 0o555],
      ["ro/f", 0o444],
      ["ro/g", 0o444],
    ] as const) {
      assert.equal((fs.statSync(join(imported.path, path)).mode & 0o7777).toString(8), mode.toString(8), path);
    }
    unlock();
    fs.chmodSync(join(src, "ro", "g"), 0o644);
    for (const dir of [
      join(dst, "ro"),
      join(dst, "ro", "empty"),
      join(imported.path, "ro"),
      join(imported.path, "ro", "empty"),
    ]) {
      fs.chmodSync(dir, 0o755);
    }
  });

  it("a directory nested 1,800 levels deep syncs and is deleted again", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    const deep = join(src, ...Array.from({ length: 1800 }, () => "d"));
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(join(deep, "bottom"), "b");
    const root = join(tmp.dir, "cache");
    const sync = async () => {
      const r = await cli(["--root", root, "--json", "sync", src]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const first = await sync();
    assert.equal(first.added, 1801);
    // Not fs.rmSync: Node's own recursive removal is what overflows at this depth.
    execFileSync("rm", ["-rf", join(src, "d")]);
    const second = await sync();
    assert.equal(second.deleted, 1);
    assert.deepEqual(fs.readdirSync(second.path), []);
    execFileSync("rm", ["-rf", tmp.dir]);
  });
});
