/** Sizes and durations as people type them on the command line. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAge, formatBytes, parseDuration, parseSize } from "../cli/units.ts";

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
});
