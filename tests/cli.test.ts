/** The CLI's contract: help, version, and exit codes for bad arguments. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { defaultRoot } from "../cli/run.ts";
import { VERSION } from "../cli/version.ts";
import { cli } from "./_cli.ts";
import { projectRoot } from "./_helpers.ts";

describe("fscache CLI", () => {
  it("prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(`${projectRoot()}/package.json`, "utf8"));
    assert.equal(VERSION, pkg.version);
    assert.deepEqual(await cli(["--version"]), { code: 0, stdout: `fscache ${VERSION}\n`, stderr: "" });
  });

  it("prints usage on --help (exit 0) and on no command (exit 2, stderr)", async () => {
    const help = await cli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: fscache <command>/);
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: fscache <command>/);
  });

  it("rejects an unknown command or option with exit 2", async () => {
    assert.equal((await cli(["frobnicate"])).code, 2);
    const bad = await cli(["--no-such-option"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no-such-option/);
  });

  it("picks the cache root from FSCACHE_ROOT, then XDG_CACHE_HOME, then HOME", () => {
    assert.equal(defaultRoot({ FSCACHE_ROOT: "/r", XDG_CACHE_HOME: "/x", HOME: "/h" }), "/r");
    assert.equal(defaultRoot({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "/x/fscache");
    assert.equal(defaultRoot({ HOME: "/h" }), "/h/.cache/fscache");
    // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
    assert.equal(defaultRoot({ XDG_CACHE_HOME: "rel", HOME: "/h" }), "/h/.cache/fscache");
  });

  it("an empty --root is a usage error", async () => {
    const r = await cli(["--root", "", "ls"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--root must not be empty/);
  });
});
