/** `fscache checksum` and `fscache tarsum`: output, options, and errors on stderr with a non-zero exit. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { entryLine, parseEntryName } from "../cli/entry_line.ts";
import { cli as runCaptured } from "./_cli.ts";

const cli = (args: string[], cwd = "/") => runCaptured(args, { cwd });

let work = "";
before(() => {
  work = fs.mkdtempSync(join(tmpdir(), "fscache-"));
  fs.mkdirSync(`${work}/ctx/dir`, { recursive: true });
  fs.writeFileSync(`${work}/ctx/dir/a`, "A");
  fs.chmodSync(`${work}/ctx/dir`, 0o755);
  fs.chmodSync(`${work}/ctx/dir/a`, 0o644);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("fscache checksum", () => {
  it("prints the dir: checksum of a directory, its entries, or JSON", async () => {
    const plain = await cli(["checksum", "ctx"], work);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^dir:[0-9a-f]{64}\n$/);
    // SPEC §4.2's example: a 0755 dir holding a 0644 file "A", owned by uid/gid 0.
    if (isRoot) assert.equal(plain.stdout, "dir:7b1b21ebf9e940d5b6ae7d5d457cd93b84a7bf13e1b9b2f3a47e5ed7eee71fbb\n");
    const entries = await cli(["checksum", "--entries", `${work}/ctx`]);
    const lines = entries.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.slice(0, -1).map((l) => l.split(" ")[1]),
      ["dir", "dir/a"],
    );
    assert.equal(lines.at(-1), plain.stdout.trimEnd());
    const json = await cli(["checksum", "--json", `${work}/ctx`]);
    assert.deepEqual(JSON.parse(json.stdout), { checksum: plain.stdout.trimEnd(), entries: 2 });
  });

  it("--entries keeps one line per entry whatever the names hold, escaped as sha256sum escapes them", {
    skip: "Deno" in globalThis ? "Deno's node:fs cannot make a name that is not UTF-8" : false,
  }, async () => {
    const dir = `${work}/odd`;
    fs.mkdirSync(dir);
    fs.writeFileSync(`${dir}/two\nlines`, "");
    fs.writeFileSync(`${dir}/back\\slash`, "");
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]), "");
    fs.writeFileSync(`${dir}/plain é`, "");
    const r = await cli(["checksum", "--entries", dir]);
    const names = r.stdout
      .trimEnd()
      .split("\n")
      .slice(0, -1)
      .map((line) => line.replace(/^(\\?)[0-9a-f]{64} /, "$1"));
    assert.deepEqual(names.sort(), ["\\back\\\\slash", "\\caf\\xe9", "\\two\\nlines", "plain é"]);
  });

  it("hash --escaped takes a name as --entries prints it", async () => {
    const dir = `${work}/escaped`;
    fs.mkdirSync(dir);
    fs.writeFileSync(`${dir}/two\nlines`, "2");
    fs.writeFileSync(`${dir}/back\\slash`, "b");
    const root = `${work}/escaped-cache`;
    const synced = await cli(["sync", dir, "--root", root, "--key", "esc", "--json"]);
    assert.equal(synced.code, 0, synced.stderr);
    const entries = (await cli(["checksum", "--entries", dir])).stdout.trimEnd().split("\n").slice(0, -1);
    assert.equal(entries.length, 2);
    for (const line of entries) {
      const [, hex, name] = /^\\([0-9a-f]{64}) (.*)$/.exec(line) as RegExpExecArray;
      const r = await cli(["hash", "esc", name as string, "--escaped", "--root", root]);
      assert.equal(r.stdout, `file:${hex}\n`, name);
    }
    const bad = await cli(["hash", "esc", "bad\\q", "--escaped", "--root", root]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /starts no escape/);
  });

  it("parseEntryName undoes entryLine's escapes, bytes that are not UTF-8 included", () => {
    for (const name of ["plain é", "two\nlines\r", "back\\slash", "caf\udce9", "x\udc80\udcff\\xe9"]) {
      const line = entryLine("0".repeat(64), name);
      const shown = line.slice(line.indexOf(" ") + 1, -1);
      assert.equal(parseEntryName(shown), name, JSON.stringify(name));
    }
    assert.equal(parseEntryName("trailing\\"), undefined);
    assert.equal(parseEntryName("short\\xe"), undefined);
  });

  it("fails with ENOENT on stderr and exit 1 for a missing directory; 2 without one", async () => {
    const missing = await cli(["checksum", `${work}/nope`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, /ENOENT/);
    assert.equal((await cli(["checksum"])).code, 2);
  });
});

describe("fscache tarsum", () => {
  it("prints the label, entries with --entries, and honours --tarsum-version and --extra", async () => {
    const archive = `${work}/ctx.tar`;
    execFileSync("tar", ["--format=gnu", "-cf", archive, "-C", `${work}/ctx`, "dir"]);
    const v1 = await cli(["tarsum", archive]);
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(v1.stdout, /^tarsum\.v1\+sha256:[0-9a-f]{64}\n$/);
    const withEntries = await cli(["tarsum", "--entries", archive]);
    const lines = withEntries.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.slice(0, -1).map((l) => l.split(" ")[1]),
      ["dir", "dir/a"],
    );
    assert.equal(lines.at(-1), v1.stdout.trimEnd());
    assert.match((await cli(["tarsum", "--tarsum-version", "0", archive])).stdout, /^tarsum\+sha256:/);
    const dev = await cli(["tarsum", "--tarsum-version", "dev", archive]);
    assert.equal(dev.stdout.replace("tarsum.dev", "tarsum.v1"), v1.stdout);
    fs.writeFileSync(`${work}/extra`, "x");
    assert.notEqual((await cli(["tarsum", "--extra", `${work}/extra`, archive])).stdout, v1.stdout);
    const json = await cli(["tarsum", "--json", archive]);
    assert.deepEqual(JSON.parse(json.stdout), { tarsum: v1.stdout.trimEnd(), entries: 2 });
  });

  it("reports bad archives and bad options on stderr with a non-zero exit", async () => {
    fs.writeFileSync(`${work}/junk.tar`, "x".repeat(2000));
    const junk = await cli(["tarsum", `${work}/junk.tar`]);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /ERR_INVALID_TAR/);
    assert.equal((await cli(["tarsum", "--tarsum-version", "9", `${work}/junk.tar`])).code, 2);
    // One line naming the code and the path, not a stack trace.
    const missing = await cli(["tarsum", `${work}/missing.tar`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^fscache tarsum: ENOENT: .*missing\.tar'?\n$/);
    const dir = await cli(["tarsum", work]);
    assert.equal(dir.code, 2);
    assert.match(dir.stderr, /is a directory, not a tar archive/);
  });
});
