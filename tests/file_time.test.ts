/**
 * The times a copy is given: a walked `mtimeMs` set with `utimesSync` must read back in
 * the same millisecond, whole-millisecond times included (tools that set times in
 * milliseconds leave them), and keep its microsecond where the runtime keeps one.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { fileTime, fileTimeOfMs } from "../transports/file_time.ts";
import { tempDir } from "./_diffcopy.ts";

const deno = "Deno" in globalThis;

describe("fileTimeOfMs", () => {
  it("sets a walked time back in the same millisecond, to the microsecond on Node", () => {
    using tmp = tempDir();
    const file = `${tmp.dir}/f`;
    fs.writeFileSync(file, "");
    const base = 1_796_062_571_000;
    // Whole milliseconds, and fractions just above and below them.
    const times = [0, 1, 252, 999].flatMap((k) => [base + k * 1013, base + k * 1013 + 0.001, base + k * 1013 + 0.999]);
    for (let k = 0; k < 300; k++) times.push(base + k * 7919 + (k % 2) * 0.5);
    let missed = 0;
    for (const ms of times) {
      const t = fileTimeOfMs(ms);
      fs.utimesSync(file, t, t);
      const back = fs.lstatSync(file).mtimeMs;
      if (Math.floor(back) !== Math.floor(ms)) missed++;
      if (!deno) assert.ok(Math.abs(back - ms) <= 0.001, `${ms} read back as ${back}`);
    }
    assert.equal(missed, 0, `times that landed in another millisecond, of ${times.length}`);
  });
});

describe("fileTime", () => {
  it("sets a sender's nanoseconds in their millisecond, however near the next, before 1970 too", () => {
    using tmp = tempDir();
    const file = `${tmp.dir}/f`;
    fs.writeFileSync(file, "");
    const base = 1_796_107_967_000_000_000n;
    const offsets = [0n, 1n, 808_999_700n, 808_999_999n, 999_999_999n, 1_000_000_000n];
    const times = [...offsets.map((ns) => base + ns), -1_031_945_149n, -1_000_000n, -999_999n];
    for (const ns of times) {
      const t = fileTime(ns);
      fs.utimesSync(file, t, t);
      const ms = ns / 1_000_000n - (ns < 0n && ns % 1_000_000n !== 0n ? 1n : 0n);
      assert.equal(Math.floor(fs.lstatSync(file).mtimeMs), Number(ms), `${ns} ns`);
    }
  });
});
