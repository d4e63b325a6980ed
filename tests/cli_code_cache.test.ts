/**
 * The npm bin's code cache (`cli/bin.ts`): written beside the bundle after a command's
 * first run, used by the next, written again after a run down another way of the
 * command, never trusted for a changed bundle, and never a reason for a command to
 * fail. Runs the built bin under Node (its only runtime) from both test runtimes, on a
 * copy of `dist/cli`, so the real build stays as it was.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { projectRoot } from "./_helpers.ts";

let work = "";
let cliDir = "";
let tree = "";
/** The cache file a `checksum` command reads and writes (one per Node version and command). */
let cacheFile = "";

function bin(...args: string[]): string {
  return execFileSync("node", [join(cliDir, "bin.cjs"), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A cache file's key: its first line. */
function keyOf(cache: Buffer): string {
  const text = cache.subarray(0, 200).toString("latin1");
  return text.slice(0, text.indexOf("\n"));
}

function direct(...args: string[]): string {
  return execFileSync("node", [join(cliDir, "main.cjs"), ...args], { encoding: "utf8" });
}

before(() => {
  work = fs.mkdtempSync(join(tmpdir(), "fscache-code-cache-"));
  // The bundle finds its npm dependencies the way an installed package does: up the tree.
  fs.symlinkSync(join(projectRoot(), "node_modules"), join(work, "node_modules"));
  cliDir = join(work, "cli");
  fs.mkdirSync(cliDir);
  for (const name of ["bin.cjs", "main.cjs", "scan_worker.cjs", "worker.cjs"]) {
    fs.copyFileSync(join(projectRoot(), "dist/cli", name), join(cliDir, name));
  }
  tree = join(work, "tree");
  fs.mkdirSync(join(tree, "sub"), { recursive: true });
  fs.writeFileSync(join(tree, "a.txt"), "a\n");
  fs.writeFileSync(join(tree, "sub/b.txt"), "b\n");
  const version = execFileSync("node", ["-p", "process.version"], { encoding: "utf8" }).trim();
  cacheFile = join(cliDir, `main.cjs.${version}.checksum.cache`);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe("the npm bin's code cache", () => {
  it("compiles a bundle whose code is ASCII: bytes beyond it stand only in comments", () => {
    // The bin reads the bundle as Latin-1; a character beyond ASCII in code would be misread.
    const lines = fs.readFileSync(join(projectRoot(), "dist/cli/main.cjs"), "latin1").split("\n");
    const beyond = lines.filter((line) => /[^\x00-\x7f]/.test(line));
    for (const line of beyond) assert.match(line, /^\s*(\/\/|\/\*|\*)/, line);
  });

  it("is written by a command's first run and used, unchanged, by the next", () => {
    const expected = direct("checksum", tree);
    assert.equal(fs.existsSync(cacheFile), false);
    assert.equal(bin("checksum", tree), expected);
    const written = fs.readFileSync(cacheFile);
    const bundle = fs.statSync(join(cliDir, "main.cjs"));
    // keyed on the bundle's size, mtime and inode (as Node reads them), then V8's own data
    const [size, mtimeMs, ino] = keyOf(written).split(":").map(Number);
    assert.equal(size, bundle.size);
    assert.equal(ino, bundle.ino);
    assert.ok(Math.abs((mtimeMs as number) - bundle.mtimeMs) < 1);
    assert.ok(written.length > 10_000, "the cache holds compiled code, not just its key");
    assert.equal(bin("checksum", tree), expected);
    // accepted by V8, so not written again
    assert.deepEqual(fs.readFileSync(cacheFile), written);
  });

  it("is written again after a run down a way it does not cover yet, and only then", () => {
    const synced = join(work, "synced");
    fs.mkdirSync(synced);
    fs.writeFileSync(join(synced, "a.txt"), "a\n");
    const syncCache = cacheFile.replace(/\.checksum\.cache$/, ".sync.cache");
    const sync = () => bin("sync", "-q", "--root", join(work, "root"), synced);
    /** The second line: the ways of the command the cache was made from. */
    const pathsOf = (cache: Buffer) => cache.subarray(0, 400).toString("latin1").split("\n")[1];
    sync();
    const first = fs.readFileSync(syncCache);
    assert.equal(pathsOf(first), "paths:local:first");
    // A resync that changes a file runs functions a first sync never compiled.
    fs.appendFileSync(join(synced, "a.txt"), "more\n");
    sync();
    const grown = fs.readFileSync(syncCache);
    assert.equal(pathsOf(grown), "paths:local:first,local:changed");
    assert.ok(grown.length > first.length, "the cache holds the resync's functions as well");
    fs.appendFileSync(join(synced, "a.txt"), "more\n");
    sync();
    assert.deepEqual(fs.readFileSync(syncCache), grown, "a way it covers: not made or written again");
    sync();
    const noop = fs.readFileSync(syncCache);
    assert.equal(pathsOf(noop), "paths:local:first,local:changed,local:noop");
    sync();
    assert.deepEqual(fs.readFileSync(syncCache), noop);
  });

  it("is not used for a rebuilt bundle, even one of the same length", () => {
    bin("--version");
    const main = join(cliDir, "main.cjs");
    const before = fs.readFileSync(main, "utf8");
    // Same length, other output: V8 alone (it checks only the length) would run the old code.
    const changed = before.replace(/"0\.\d+\.\d+"/, (v) => v.replace(/\d/g, "9"));
    assert.notEqual(changed, before);
    assert.equal(changed.length, before.length);
    fs.writeFileSync(main, changed);
    try {
      assert.match(bin("--version"), /^fscache 9\.9\.9\n$/);
    } finally {
      fs.writeFileSync(main, before);
    }
    assert.match(bin("--version"), /^fscache 0\.\d+\.\d+\n$/);
  });

  it("is written again when V8 rejects it", () => {
    const expected = direct("checksum", tree);
    bin("checksum", tree);
    // The bin's own key, so only V8 can turn the cache down.
    const garbage = Buffer.concat([
      Buffer.from(`${keyOf(fs.readFileSync(cacheFile))}\n`, "latin1"),
      Buffer.alloc(4096, 7),
    ]);
    fs.writeFileSync(cacheFile, garbage);
    assert.equal(bin("checksum", tree), expected);
    const rewritten = fs.readFileSync(cacheFile);
    assert.notDeepEqual(rewritten, garbage);
    assert.equal(bin("checksum", tree), expected);
    assert.deepEqual(fs.readFileSync(cacheFile), rewritten);
  });

  it("never fails a command when it cannot be written", () => {
    fs.rmSync(cacheFile, { force: true });
    // A directory in its place: the rename fails (as for a directory that is not writable).
    fs.mkdirSync(join(cacheFile, "taken"), { recursive: true });
    try {
      const expected = direct("checksum", tree);
      const run = spawnSync("node", [join(cliDir, "bin.cjs"), "checksum", tree], { encoding: "utf8" });
      assert.equal(run.status, 0);
      assert.equal(run.stdout, expected);
      assert.equal(run.stderr, "");
      assert.deepEqual(
        fs.readdirSync(cliDir).filter((name) => name.endsWith(".tmp")),
        [],
        "no temporary file left behind",
      );
    } finally {
      fs.rmSync(cacheFile, { recursive: true, force: true });
    }
  });
});
