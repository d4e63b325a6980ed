/**
 * What `fscache sync` leaves out, as Docker would: `.dockerignore` read as Docker reads
 * it and matched case-sensitively, the command line's `--exclude` winning over the file,
 * patterns Docker refuses refused, and the cache root never copied into its own cache.
 * Also: a command other than `gc`/`serve` never deletes a snapshot on its own.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileMetaStore } from "../mod.ts";
import { cli } from "./_cli.ts";
import { tempDir } from "./_diffcopy.ts";
import { projectRoot } from "./_helpers.ts";

function tree(dir: string, files: string[]): void {
  for (const file of files) {
    fs.mkdirSync(join(dir, file, ".."), { recursive: true });
    fs.writeFileSync(join(dir, file), file);
  }
}

/** Every file in `dir`, relative, sorted. */
function filesOf(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => fs.lstatSync(join(dir, p)).isFile())
    .sort();
}

async function syncJson(root: string, ...args: string[]) {
  const r = await cli(["--root", root, "--json", "sync", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe("fscache sync excludes", () => {
  it("match case-sensitively, as Docker does on Linux", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["README.md", "readme.md", "DIR/a", "dir/a", "x.LOG", "x.log"]);
    fs.writeFileSync(join(src, ".dockerignore"), "README.md\nDIR\n");
    const r = await syncJson(join(tmp.dir, "cache"), src, "--exclude", "*.log");
    assert.deepEqual(filesOf(r.path), [".dockerignore", "dir/a", "readme.md", "x.LOG"]);
  });

  it("read .dockerignore as Docker does: # only at the very start is a comment; BOM and CRLF", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["#notes", "#comment", "a.txt", "b.txt", "c.txt"]);
    fs.writeFileSync(join(src, ".dockerignore"), "\ufeffa.txt\r\n  #notes\r\n#comment\r\n\r\nb.txt\n");
    const r = await syncJson(join(tmp.dir, "cache"), src);
    assert.deepEqual(filesOf(r.path), ["#comment", ".dockerignore", "c.txt"]);
    // On the command line every argument is a pattern, `#` or not.
    const again = await syncJson(join(tmp.dir, "cache"), src, "--exclude", "#comment");
    assert.deepEqual(filesOf(again.path), [".dockerignore", "c.txt"]);
  });

  it("--exclude wins over a re-inclusion in .dockerignore", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["secret.txt", "keep.txt"]);
    fs.writeFileSync(join(src, ".dockerignore"), "*.txt\n!secret.txt\n!keep.txt\n");
    const r = await syncJson(join(tmp.dir, "cache"), src, "--exclude", "secret.txt");
    assert.deepEqual(filesOf(r.path), [".dockerignore", "keep.txt"]);
  });

  it("refuses patterns Docker refuses, naming them, before touching the cache", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["a"]);
    for (const pattern of ["!", "[", "f\\"]) {
      const r = await cli(["--root", join(tmp.dir, "cache"), "sync", src, "--exclude", pattern]);
      assert.equal(r.code, 1, pattern);
      assert.match(r.stderr, /ERR_INVALID_PATTERN/);
      assert.ok(r.stderr.includes(JSON.stringify(pattern)), r.stderr);
    }
    assert.equal(fs.existsSync(join(tmp.dir, "cache")), false);
  });

  it("a .dockerignore line that is not UTF-8 names the file of those bytes", {
    skip: "Deno" in globalThis ? "Deno's node:fs cannot reach such names" : false,
  }, async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["plain"]);
    const odd = Buffer.concat([Buffer.from(`${src}/caf`), Buffer.from([0xe9])]);
    fs.writeFileSync(odd, "latin-1 name");
    fs.writeFileSync(join(src, ".dockerignore"), Buffer.concat([Buffer.from("caf"), Buffer.from([0xe9, 0x0a])]));
    const r = await syncJson(join(tmp.dir, "cache"), src);
    assert.deepEqual(filesOf(r.path), [".dockerignore", "plain"]);
  });

  it("never copies the cache root into itself when it lies inside the synced directory", async () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "home");
    tree(src, ["notes.txt"]);
    const root = join(src, ".cache", "fscache");
    for (let i = 0; i < 2; i++) {
      const r = await syncJson(root, src);
      assert.deepEqual(filesOf(r.path), ["notes.txt"]);
    }
    const self = await cli(["--root", src, "sync", src]);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /ERR_INVALID_PATH: cannot sync the cache root into itself/);
  });
});

describe("the npm bin's exclude matcher", () => {
  it("loads the pattern package only for a sync that has patterns, and then matches with it", () => {
    using tmp = tempDir();
    const src = join(tmp.dir, "src");
    tree(src, ["keep.txt", "x.log"]);
    // Runs the built bin under Node (its only runtime) from both test runtimes.
    const probe = join(tmp.dir, "probe.cjs");
    fs.writeFileSync(
      probe,
      `process.on("exit", () => require("fs").writeSync(2, "package loaded: " + Object.keys(require.cache).some((k) => k.includes("@balena/dockerignore")) + "\\n"));`,
    );
    const run = (...args: string[]) => {
      const r = spawnSync(
        "node",
        [
          "-r",
          probe,
          join(projectRoot(), "dist/cli/bin.cjs"),
          "--root",
          join(tmp.dir, "cache"),
          "--json",
          "sync",
          ...args,
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      return { loaded: /package loaded: true/.test(r.stderr), files: filesOf(JSON.parse(r.stdout).path) };
    };
    assert.deepEqual(run(src), { loaded: false, files: ["keep.txt", "x.log"] });
    assert.deepEqual(run("--exclude", "*.log", src), { loaded: true, files: ["keep.txt"] });
  });
});

describe("CLI commands and garbage collection", () => {
  it("sync and hash never delete snapshots on their own; gc does, by its budget", async () => {
    using tmp = tempDir();
    const root = join(tmp.dir, "cache");
    for (const name of ["old", "new"]) tree(join(tmp.dir, name), ["f"]);
    await syncJson(root, join(tmp.dir, "old"), "--key", "old");
    // Make `old` unused for a year: past the default 7-day budget of `fscache gc`.
    const store = new FileMetaStore(root);
    const [record] = (await store.loadAll()).filter((r) => r.key === "old");
    await store.put({ ...(record as NonNullable<typeof record>), lastUsed: Date.now() - 365 * 86_400_000 });
    await store.close();
    await syncJson(root, join(tmp.dir, "new"), "--key", "new");
    assert.equal((await cli(["--root", root, "hash", "new"])).code, 0);
    const keys = async () =>
      JSON.parse((await cli(["--root", root, "--json", "ls"])).stdout).map((s: { key: string }) => s.key);
    assert.deepEqual((await keys()).sort(), ["new", "old"]);
    const gc = await cli(["--root", root, "--json", "gc"]);
    assert.deepEqual(JSON.parse(gc.stdout).removed, ["old"]);
    assert.deepEqual(await keys(), ["new"]);
  });
});
