/** CRC-32 of records and trees: the runtime's own for large inputs, the portable code for the rest. */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "node:test";
import { crc32, crc32Portable } from "../core/byte_io.ts";
import { runtimeBinding } from "../core/runtime_builtin.ts";
import { seededRandom } from "./_helpers.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

describe("crc32", () => {
  it("gives the IEEE check values", () => {
    for (const f of [crc32, crc32Portable]) {
      assert.equal(f(ascii("123456789")), 0xcbf43926);
      assert.equal(f(new Uint8Array(0)), 0);
      assert.equal(f(ascii("The quick brown fox jumps over the lazy dog")), 0x414fa339);
    }
  });

  it("agrees with the portable code on inputs of every size around the switch and far above it", () => {
    const random = seededRandom(7);
    for (const size of [1, 7, 8, 9, 65_535, 65_536, 65_537, 1_000_003]) {
      const data = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
      // Offsets into a larger buffer, as a record's body is checked in place.
      const view = new Uint8Array(data.length + 3);
      view.set(data, 3);
      const expected = crc32Portable(data);
      assert.equal(crc32(data), expected, `size ${size}`);
      assert.equal(crc32(view.subarray(3)), expected, `size ${size}, at an offset`);
      assert.ok(expected >= 0 && expected <= 0xffffffff);
    }
  });

  it("has Node 20's zlib binding to compute with, and no binding elsewhere", () => {
    const node20 = !("Deno" in globalThis) && process.versions.node?.startsWith("20.") && process.platform !== "win32";
    // Node 20.15 added `crc32` to the binding; before it, node:zlib has none either.
    const withCrc = node20 && Number(process.versions.node.split(".")[1]) >= 15;
    assert.equal(typeof runtimeBinding("zlib")?.crc32, withCrc ? "function" : "undefined");
    assert.equal(runtimeBinding("fs") !== undefined, node20);
  });

  it("tells a one-bit change in a large input", () => {
    const data = new Uint8Array(200_000).fill(0x5a);
    const before = crc32(data);
    data[123_456] = (data[123_456] as number) ^ 1;
    assert.notEqual(crc32(data), before);
  });
});
