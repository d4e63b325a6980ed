/** The cache commands end to end on a real disk root: sync, ls, du, hash, prune, gc, and their exit codes. */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { RACY_MS } from "../core/listing_key.ts";
import { LocalTransport } from "../transports/local/local_transport.ts";
import { cli } from "./_cli.ts";
import { binEntry } from "./_processes.ts";

let work = "";
let root = "";
let src = "";
const run = (...args: string[]) => cli(["--root", root, ...args]);
const json = async (...args: string[]) => {
  const r = await run("--json", ...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

before(() => {
  work = fs.mkdtempSync(join(tmpdir(), "fscache-cli-"));
  root = join(work, "cache");
  src = join(work, "src");
  fs.mkdirSync(join(src, "dir/sub"), { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(join(src, `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(join(src, "dir/sub/deep.txt"), "deep\n");
  fs.writeFileSync(join(src, "secret.log"), "excluded\n");
  fs.symlinkSync("f0.txt", join(src, "link"));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe("fscache sync", () => {
  it("snapshots a directory and prints exactly the documented JSON keys", async () => {
    const r = await json("sync", src, "--exclude", "*.log");
    assert.deepEqual(Object.keys(r).sort(), [
      "added",
      "bytesCopied",
      "checksum",
      "deleted",
      "durationMs",
      "key",
      "modified",
      "path",
      "sharedKey",
      "unchanged",
    ]);
    assert.equal(r.added, 14); // 10 files, dir, dir/sub, deep.txt, link
    assert.equal(r.sharedKey, `local:${src}`);
    assert.ok(fs.existsSync(join(r.path, "dir/sub/deep.txt")));
    assert.ok(!fs.existsSync(join(r.path, "secret.log")), "excluded file copied");
    const checksum = await run("checksum", r.path);
    assert.equal(checksum.stdout.trim(), r.checksum, "the snapshot's checksum equals a fresh scan");
  });

  it("a repeat sync of an unchanged directory reports 0 changes and copies 0 bytes", async () => {
    const r = await json("sync", src, "--exclude", "*.log");
    assert.deepEqual([r.added, r.modified, r.deleted, r.bytesCopied], [0, 0, 0, 0]);
    assert.equal(r.unchanged, 14);
  });

  it("after editing 3 files, deleting 1 and adding 2 it reports exactly that", async () => {
    for (const i of [1, 2, 3]) fs.writeFileSync(join(src, `f${i}.txt`), `edited ${i}\n`);
    fs.rmSync(join(src, "f9.txt"));
    fs.writeFileSync(join(src, "new1.txt"), "n1");
    fs.writeFileSync(join(src, "new2.txt"), "n2");
    const r = await json("sync", src, "--exclude", "*.log");
    assert.deepEqual([r.added, r.modified, r.deleted], [2, 3, 1]);
    assert.equal(r.bytesCopied, 3 * 9 + 4);
    const expected = await run("checksum", src, "--json");
    const viaExclude = JSON.parse(expected.stdout).checksum;
    assert.notEqual(r.checksum, viaExclude, "the source still holds secret.log, the snapshot does not");
    fs.rmSync(join(src, "secret.log"));
    assert.equal(JSON.parse((await run("checksum", src, "--json")).stdout).checksum, r.checksum);
    assert.equal((await run("hash", r.key)).stdout.trim(), r.checksum);
    assert.match((await run("hash", r.key, "f1.txt")).stdout, /^file:[0-9a-f]{64}\n$/);
  });

  it("prepares the local transport (starts its walk workers) before it copies", async () => {
    const calls: string[] = [];
    const proto = LocalTransport.prototype;
    const { prepare, copy } = proto;
    proto.prepare = function (request) {
      calls.push("prepare");
      prepare.call(this, request);
    };
    proto.copy = function (request) {
      calls.push("copy");
      return copy.call(this, request);
    };
    try {
      await json("sync", src, "--exclude", "*.log");
    } finally {
      Object.assign(proto, { prepare, copy });
    }
    assert.deepEqual(calls, ["prepare", "copy"]);
  });

  it("honours --key and a .dockerignore in the directory", async () => {
    fs.writeFileSync(join(src, ".dockerignore"), "# comment\nnew*.txt\n");
    const r = await json("sync", src, "--key", "my-key");
    assert.equal(r.key, "my-key");
    assert.equal(r.deleted, 2); // new1.txt and new2.txt now ignored
    fs.rmSync(join(src, ".dockerignore"));
  });
});

describe("fscache ls, du, hash, gc, prune", () => {
  it("lists sources and sizes", async () => {
    const list = await json("ls");
    assert.equal(list.length, 1, "every sync of one directory rebased the same snapshot");
    assert.equal(list[0].key, "my-key");
    assert.equal(list[0].refs, 0);
    const du = await json("du");
    assert.deepEqual(du, { idle: list[0].size, inUse: 0, count: 1 });
    const human = await run("ls");
    assert.match(human.stdout, /^KEY\s+SHARED KEY\s+SIZE\s+LAST USED\s+IN USE\n/);
  });

  it("hash of an unknown key or a missing path fails with exit 1 and the code", async () => {
    const unknown = await run("hash", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ENOENT: no source is cached under key "nope"/);
    const missing = await run("hash", "my-key", "no/such/file");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT/);
  });

  it("gc keeps what fits the budget, prune frees everything idle", async () => {
    assert.deepEqual(await json("gc", "--max-size", "1GiB", "--keep", "7d"), { removed: [], freed: 0 });
    const size = (await json("du")).idle;
    assert.ok(size > 0);
    assert.deepEqual(await json("prune"), { freed: size });
    assert.deepEqual(await json("ls"), []);
  });

  it("bad arguments exit 2 with usage on stderr", async () => {
    for (const args of [["sync"], ["gc", "--max-size", "lots"], ["gc", "--keep", "7"], ["ls", "extra"], ["hash"]]) {
      const r = await run(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, /Usage: fscache/);
      assert.equal(r.stdout, "");
    }
  });

  it("sync of a missing directory or archive, or of a file, exits 1 naming the path, and leaves no source behind", async () => {
    const before = (await json("ls")).length;
    fs.writeFileSync(join(work, "plain-file"), "x");
    for (const [args, error] of [
      [["sync", join(work, "missing")], /^fscache sync: ENOENT: no such directory: \S*missing\n$/],
      [["sync", "--tar", join(work, "missing.tar")], /^fscache sync: ENOENT: no such file\S* \S*missing\.tar/],
      [["sync", join(work, "plain-file")], /^fscache sync: ERR_NOT_A_DIRECTORY: not a directory: \S*plain-file\n$/],
    ] as const) {
      const r = await run(...args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, error);
    }
    assert.equal((await json("ls")).length, before);
  });

  it("hash of a source whose sync failed says it is stale", async () => {
    fs.writeFileSync(join(work, "garbage.tar"), "x".repeat(1024));
    const failed = await run("sync", "--tar", join(work, "garbage.tar"), "--key", "half-done");
    assert.equal(failed.code, 1);
    assert.ok((await json("ls")).some((s: { key: string; stale: boolean }) => s.key === "half-done" && s.stale));
    const r = await run("hash", "half-done");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_STALE: the source cached under key "half-done" is stale/);
  });

  it("sync --tar refuses the directory-only options instead of ignoring them", async () => {
    for (const option of [["--exclude", "*.log"], ["--no-dockerignore"]]) {
      const r = await run("sync", "--tar", "-", ...option);
      assert.equal(r.code, 2, option.join(" "));
      assert.match(r.stderr, /--exclude and --no-dockerignore apply to a directory, not to --tar/);
    }
  });

  it("warnings go to the command's own stderr: a fifo left out of a sync, a record without its snapshot", async () => {
    const own = join(work, "warnings");
    fs.mkdirSync(join(own, "src"), { recursive: true });
    fs.writeFileSync(join(own, "src/a"), "a");
    execFileSync("mkfifo", [join(own, "src/pipe")]);
    const sync = await cli(["--root", join(own, "cache"), "sync", join(own, "src"), "--key", "k", "--json"]);
    assert.equal(sync.code, 0, sync.stderr);
    assert.equal(sync.stderr, "skipped pipe: devices, fifos and sockets are not synced\n");
    fs.rmSync(JSON.parse(sync.stdout).path, { recursive: true });
    const ls = await cli(["--root", join(own, "cache"), "ls", "--json"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(JSON.parse(ls.stdout), []);
    assert.equal(ls.stderr, 'dropping record of key "k": its snapshot directory is gone\n');
  });

  it("a system error is printed with its code once", async () => {
    const r = await run("checksum", join(work, "missing"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fscache checksum: ENOENT: no such file/);
  });
});

describe("the fscache executable", () => {
  it("runs as a process with the documented exit codes", () => {
    const entry = binEntry();
    const env = { ...process.env, FSCACHE_ROOT: join(work, "bin-root") };
    const out = execFileSync(process.execPath, [...entry, "sync", src, "--json"], { env, encoding: "utf8" });
    assert.equal(JSON.parse(out).deleted, 0);
    const bad = spawnSync(process.execPath, [...entry, "gc", "--max-size", "x"], { env, encoding: "utf8" });
    assert.equal(bad.status, 2);
    // The npm bin runs as a program of its own (shebang, executable bit), as `npx fscache` runs it.
    if (!("Deno" in globalThis)) {
      assert.match(execFileSync(entry[0] as string, ["--version"], { encoding: "utf8" }), /^fscache \d/);
    }
  });

  it("stops printing quietly when the reader of its output goes away (`| head`)", async () => {
    const entry = binEntry();
    const env = { ...process.env, FSCACHE_ROOT: join(work, "pipe-root") };
    const child = spawn(process.execPath, [...entry, "sync", src], { env, stdio: ["ignore", "pipe", "pipe"] });
    // Closed long before the child, still starting, writes its report: the write meets EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(stderr, "");
    assert.equal(code, 0);
    // The sync itself was made: the next one finds nothing to copy.
    const again = JSON.parse(
      execFileSync(process.execPath, [...entry, "sync", src, "--json"], { env, encoding: "utf8" }),
    );
    assert.equal(again.added + again.modified + again.deleted, 0);
  });

  it("a resync as a process finds the files edited deep in directories it takes from the record", async () => {
    const entry = binEntry();
    const env = { ...process.env, FSCACHE_ROOT: join(work, "deep-root") };
    const bin = (...args: string[]) => execFileSync(process.execPath, [...entry, ...args], { env, encoding: "utf8" });
    // The process's working directory reads back without symlinks: the source must too,
    // for the walk to go by relative paths (see `WalkOptions.cwd`).
    const deep = join(fs.realpathSync(work), "deep");
    for (const dir of ["a/b/c", "a/d", "e"]) {
      fs.mkdirSync(join(deep, dir), { recursive: true });
      for (let i = 0; i < 5; i++) fs.writeFileSync(join(deep, dir, `f${i}.txt`), `${dir} ${i}\n`);
    }
    // Directories changed just before a walk are read again by the next one: let them settle.
    await new Promise((resolve) => setTimeout(resolve, RACY_MS + 300));
    assert.equal(JSON.parse(bin("sync", deep, "--json")).added, 20);
    fs.appendFileSync(join(deep, "a/b/c/f3.txt"), "edited\n");
    fs.appendFileSync(join(deep, "e/f0.txt"), "edited\n");
    const again = JSON.parse(bin("sync", deep, "--json"));
    assert.deepEqual([again.added, again.modified, again.deleted, again.unchanged], [0, 2, 0, 18]);
    assert.equal(again.checksum, bin("checksum", deep).trim());
  });

  it("finds its worker threads and lazily loaded parts (the npm bin is a bundle)", async () => {
    const entry = binEntry();
    const env = { ...process.env, FSCACHE_ROOT: join(work, "bundle-root") };
    const bin = (...args: string[]) => execFileSync(process.execPath, [...entry, ...args], { env, encoding: "utf8" });
    // More files than a sync copies on its own thread, so the copy goes to a worker.
    const big = join(work, "big");
    fs.mkdirSync(big);
    for (let i = 0; i < 700; i++) fs.writeFileSync(join(big, `f${i}.txt`), `file ${i}\n`);
    const expected = (await json("sync", big)).checksum;
    assert.equal(bin("checksum", big).trim(), expected, "checksum: scan worker");
    const synced = JSON.parse(bin("sync", big, "--json"));
    assert.equal(synced.checksum, expected);
    assert.equal(synced.added, 700, "sync: copy worker");
    const tar = join(work, "big.tar");
    execFileSync("tar", ["-C", big, "-cf", tar, "."]);
    // A tar's entries are keyed as `fscache tarsum --entries` gives them (owners, names), not as the directory.
    const fromTar = JSON.parse(bin("sync", "--tar", tar, "--json"));
    assert.match(fromTar.checksum, /^dir:[0-9a-f]{64}$/, "sync --tar: tar transport");
    assert.equal(fromTar.added, 700);
  });
});
