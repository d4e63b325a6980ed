/** Sizes and durations as people type them on the command line. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAge, formatBytes, parseCount, parseDuration, parseHostPort, parseSize } from "../cli/units.ts";
import { cli } from "./_cli.ts";

describe("CLI units", () => {
  it("parses decimal and binary sizes", () => {
    assert.equal(parseSize("512MiB"), 512 * 2 ** 20);
    assert.equal(parseSize("2GB"), 2e9);
    assert.equal(parseSize("1024"), 1024);
    assert.equal(parseSize("1.5k"), 1500);
    assert.equal(parseSize("10 KiB"), 10240);
  });

  it("rejects what is not a size, naming the option", () => {
    assert.throws(() => parseSize("lots", "--max-size"), /--max-size: "lots" is not a size/);
    assert.throws(() => parseSize("-1"), /not a size/);
    assert.throws(() => parseSize("5XB"), /not a size/);
  });

  it("parses durations, including compound ones", () => {
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("12h"), 12 * 3_600_000);
    assert.equal(parseDuration("7d"), 7 * 86_400_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("250ms"), 250);
    assert.throws(() => parseDuration("7"), /not a duration/);
    assert.throws(() => parseDuration("7x"), /not a duration/);
    assert.throws(() => parseDuration("1h junk"), /not a duration/);
  });

  it("formats bytes and ages for people", () => {
    assert.equal(formatBytes(5), "5 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(146 * 2 ** 20), "146.0 MiB");
    assert.equal(formatAge(0, 500), "just now");
    assert.equal(formatAge(0, 90_000), "1m ago");
    assert.equal(formatAge(0, 3 * 86_400_000), "3d ago");
  });

  it("parses HOST:PORT and counts; anything else is a usage error naming the option", () => {
    assert.deepEqual(parseHostPort("127.0.0.1:7373", "--listen"), { host: "127.0.0.1", port: 7373 });
    assert.deepEqual(parseHostPort("[::1]:80", "--to"), { host: "::1", port: 80 });
    assert.throws(() => parseHostPort("nonsense", "--listen"), /--listen: expected HOST:PORT/);
    assert.throws(() => parseHostPort("127.0.0.1:99999", "--listen"), /expected HOST:PORT/);
    assert.equal(parseCount("1000", "--max-entries"), 1000);
    assert.throws(() => parseCount("1k", "--max-entries"), /--max-entries must be a non-negative integer/);
    assert.throws(() => parseCount("", "--max-entries"), /non-negative integer/);
  });

  it("bad HOST:PORT, size and count options exit 2 with the usage on stderr", async () => {
    for (const args of [
      ["serve", "--listen", "nonsense"],
      ["serve", "--listen", "127.0.0.1:99999"],
      ["push", ".", "--to", "bad"],
      ["pull", "k", "out", "--from", "bad"],
      ["diffcopy", "receive", "out", "--max-bytes", "lots"],
      ["diffcopy", "receive", "out", "--max-entries", "-1"],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /Usage: fscache /, args.join(" "));
    }
  });
});
